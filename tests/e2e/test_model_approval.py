"""Four eyes before a model decides (issue: model governance), as the people involved meet it: a data scientist
runs the job with approval required, the winning model waits; the service stays unready; the data scientist's
own approval is refused in the terminal and on the service; a validator approves it on the console's Models
page in Chromium; only then does the service serve it."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_cli_runs import SAME_DATA, riskops
from tests.e2e.test_console import CHROMIUM, _accessible, _shot
from tests.integration.conftest import start_console, start_uvicorn, stop

pytestmark = pytest.mark.e2e
KEY = "console-key"
USERS = {"dana": "validator", "vic": "validator", "rita": "reviewer"}  # dana also trains: never her own approver
APPROVAL = {"RISKOPS_MODEL_APPROVAL": "required"}


def _ready(url: str) -> httpx.Response:
    return httpx.get(f"{url}/readyz", timeout=5)


def _sign_in(browser: Any, url: str, name: str) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{url}/models")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(name + "-pw")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")
    page.goto(f"{url}/models")
    return page


def test_a_model_decides_only_after_a_validator_other_than_its_trainer_approves_it(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: `make ops-tools` installs it (apt)")
    r = riskops("run", *SAME_DATA, "--by", "dana", cwd=tmp_path, env=APPROVAL)
    assert r.returncode == 0, r.stderr
    version = json.loads(next((tmp_path / "runs" / "books" / "synthetic").glob("2*/run.json")).read_text())["trained"]
    assert "gate: AWAITING APPROVAL" in r.stdout and "not scored: no approved champion yet" in r.stdout
    assert f"{version} awaits approval" in r.stderr and "score-shard-0" not in r.stderr
    listed = riskops("models", "list", cwd=tmp_path, env=APPROVAL)
    assert f"{version}" in listed.stdout and "by dana  awaiting approval  pack " in listed.stdout
    # The validator rebuilds the pack from the run's own warehouse, found from the version alone.
    again = riskops("models", "validate", version, cwd=tmp_path, env=APPROVAL)
    assert again.returncode == 0, again.stderr
    assert "Out of time" in again.stdout and "Benchmark scorecard" in again.stdout
    assert f"{version}/validation/pack.html" in " ".join(again.stdout.split())
    refused = riskops("models", "promote", version, cwd=tmp_path, env=APPROVAL)
    assert refused.returncode == 2 and "is awaiting approval, and model approval is required" in refused.stderr

    home = tmp_path / "runs"
    env = {**os.environ, "RISKOPS_HOME": str(home), **APPROVAL}
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    service, service_url = start_uvicorn(
        env | {"RISKOPS_API_KEY_HASHES": digest, "RISKOPS_REVIEWER_KEY_HASHES": digest, "RISKOPS_MODEL_POLL_S": "0.3"},
        tmp_path / "service.log",
        ready_s=2,
    )
    from playwright.sync_api import sync_playwright

    console, url = start_console(env, USERS, service_url, KEY, tmp_path)
    try:
        waiting = _ready(service_url)  # nothing approved: nothing decides
        assert waiting.status_code == 503 and waiting.json()["awaiting_approval"] == [version]
        assert f"{version} awaiting approval" in waiting.json()["status"]

        own = riskops("models", "approve", version, "--by", "dana", cwd=tmp_path, env=APPROVAL)
        assert own.returncode == 2 and "dana registered model version" in own.stderr and "four eyes" in own.stderr
        staff = {"x-api-key": KEY, "x-riskops-staff": "dana", "x-riskops-staff-role": "validator"}
        forged = httpx.post(f"{service_url}/v1/models/{version}/approval", json={"action": "approved"}, headers=staff)
        assert forged.status_code == 409 and "cannot also approve it" in forged.json()["detail"]
        for hostile in ("%2E%2E", "%3Cscript%3E", "a%20b", "x" * 101):  # refused before any artifact key
            answer = httpx.get(f"{service_url}/v1/models/{hostile}/card", headers=staff)
            assert answer.status_code == 422, (hostile, answer.status_code)
        as_reviewer = staff | {"x-riskops-staff": "rita", "x-riskops-staff-role": "reviewer"}
        assert (
            httpx.post(
                f"{service_url}/v1/models/{version}/approval", json={"action": "approved"}, headers=as_reviewer
            ).status_code
            == 403
        )

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = _sign_in(browser, url, "dana")
            row = page.locator(f'#models tr[data-version="{version}"]')
            assert row.get_attribute("data-state") == "awaiting approval"
            assert row.locator("td.validation").inner_text() in ("pass", "warn", "fail")
            assert "You registered it" in row.inner_text() and row.locator("form").count() == 0
            page = _sign_in(browser, url, "rita")
            assert "Only a validator decides" in page.locator(f'#models tr[data-version="{version}"]').inner_text()

            page = _sign_in(browser, url, "vic")
            _accessible(page)
            row = page.locator(f'#models tr[data-version="{version}"]')
            row.get_by_label("Decision").select_option("approved")
            row.get_by_label("Comment").fill("holdout and fairness reviewed")
            assert _ready(service_url).status_code == 503  # still nothing served before the click
            row.get_by_role("button", name="Record").click()
            page.wait_for_load_state("networkidle")
            assert "it is now the champion" in page.locator(".flash").inner_text()
            row = page.locator(f'#models tr[data-version="{version}"]')
            assert row.get_attribute("data-state") == "approved" and "champion" in row.inner_text()
            assert "approved by vic" in row.inner_text() and "holdout and fairness reviewed" in row.inner_text()
            _shot(page, "models")
            row.get_by_role("link", name=version).click()  # the model card the validator signed
            page.wait_for_load_state("networkidle")
            assert page.locator("#card-state").inner_text() == "approved"
            verdicts = page.locator("#card-pack tbody tr").all_inner_texts()  # the run's validate step wrote the pack
            assert page.locator("#card-validation").inner_text() in ("pass", "warn", "fail") and len(verdicts) == 8
            assert any(t.startswith("Out of time") and "joined after" in t for t in verdicts)
            assert "holdout and fairness reviewed" in page.locator("#approvals + ul").inner_text()
            assert page.locator("#card-limitations li").count() >= 2
            _accessible(page)
            _shot(page, "model-card")
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            for width in (390, 1400):  # no page-wide horizontal scroll: the wide tables scroll in their box
                page.set_viewport_size({"width": width, "height": 900})
                for path in ("/models", f"/models/{version}/card"):
                    page.goto(url + path)
                    assert page.evaluate("document.documentElement.scrollWidth") <= width, (width, path)
            for hostile in ("%3Cscript%3Ealert(1)%3C%2Fscript%3E", "%2E%2E", "..%5C..%5Cetc"):
                answer = page.goto(f"{url}/models/{hostile}/card")
                assert answer is not None and answer.status in (404, 422), hostile  # an error page, no 500
            assert dialogs == []
            browser.close()

        deadline = time.monotonic() + 20
        while (ready := _ready(service_url)).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ready.status_code == 200 and ready.json()["model_version"] == version
        assert ready.json()["awaiting_approval"] == []
        served = httpx.get(f"{service_url}/v1/model/card", headers={"x-api-key": KEY}).json()
        assert served["version"] == version and served["approval"]["state"] == "approved"
        assert served["registered_by"] == "dana" and "Intended" not in json.dumps(served["limitations"])
        shown = riskops("models", "show", version, cwd=tmp_path, env=APPROVAL)
        log = json.loads(shown.stdout)["approval"]
        assert log["state"] == "approved" and [e["by"] for e in log["log"]] == ["gate", "vic"]
        assert json.loads(shown.stdout)["validation"]["status"] in ("pass", "warn", "fail")
        assert len(log["log"][1]["evidence_sha256"]) == 64
        again = riskops("models", "reject", version, "--by", "vic", "--comment", "changed my mind", cwd=tmp_path)
        assert again.returncode == 2 and "already approved by vic" in again.stderr
    finally:
        stop(console)
        stop(service)
