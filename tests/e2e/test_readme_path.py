"""The README's paths one after the other, as written: `make run` on the demo, `make run DATA=<own folder>
MAPPING=<m>` on a bank's book, then `riskops score --policy <stricter> --publish`; the service and the console
then serve the re-scored run. The make commands are the Makefile's own recipes (`make -n`), run from a clean
folder so nothing lands in the checkout."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest

from riskops.data.synth import generate
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from tests.e2e.banks import BANK_MAPPING, bank_layout
from tests.integration.conftest import start_console, start_uvicorn, stop

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
KEY = "readme-key"
SMALL = ("CUSTOMERS=1500", "SEED=5")  # the README's sample, smaller


def make_run(*assignments: str) -> list[str]:
    """The command `make run ASSIGNMENTS` runs, from the Makefile (its setup already done here)."""
    said = subprocess.run(
        ["make", "-s", "-n", "-C", str(REPO), "run", *assignments], capture_output=True, text=True, check=True
    )
    line = next(x for x in said.stdout.splitlines() if "riskops pipeline run" in x)
    command = shlex.split(line)
    return [str(BIN / Path(command[0]).name), *command[1:]]


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RISKOPS_HOME": str(cwd / "runs"), "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("RISKOPS_BOOK", None)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def riskops(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run([str(BIN / "riskops"), *args], cwd)


def test_the_demo_then_a_banks_own_book_then_a_stricter_policy_published(tmp_path: Path) -> None:
    demo = run(make_run(*SMALL), tmp_path)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "book synthetic:" in demo.stdout and "gate: PROMOTED - no champion yet" in demo.stdout

    generate(tmp_path / "export", customers=1500, seed=9)  # another bank's customers, laid out its own way
    bank_layout(tmp_path / "export", tmp_path / "bank")
    (tmp_path / "bank.yaml").write_text(BANK_MAPPING)
    own = run(make_run("DATA=bank", "MAPPING=bank.yaml", *SMALL), tmp_path)
    assert own.returncode == 0, own.stderr[-3000:]
    assert "book bank:" in own.stdout and "gate: PROMOTED - no champion yet" in own.stdout  # its own champion
    books = tmp_path / "runs" / "books"
    champions = {b: json.loads((books / b / "models" / "champion.json").read_text()) for b in ("synthetic", "bank")}
    assert champions["synthetic"]["version"] != champions["bank"]["version"]
    (first,) = [p for p in (books / "bank").glob("2*") if (p / "run.json").exists()]

    (tmp_path / "stricter.yaml").write_text("capacity: 3\n")
    strict = riskops("score", "--policy", "stricter.yaml", "--publish", cwd=tmp_path)
    assert strict.returncode == 0, strict.stderr
    rescored = re.search(r"published as run (\S+):", strict.stdout).group(1)  # type: ignore[union-attr]
    assert f"re-scores run {first.name}" in strict.stdout
    record = json.loads((books / "bank" / rescored / "run.json").read_text())
    assert record["flow"] == "rescore" and record["rescores"] == first.name and record["published"]
    assert record["policy"]["capacity"] == 3 and record["scoring"]["offboard"] == 3
    digest = next(s for s in record["steps"] if s["step"] == "rescore")["detail"]["policy_digest"]
    assert digest.startswith("sha256:") and digest[7:19] in strict.stderr
    for name in ("report.html", "report.md", "offboarding.csv", "book.parquet", "scores.parquet", "policy.json"):
        assert (books / "bank" / rescored / name).exists(), name
    before = json.loads((first / "run.json").read_text())["scoring"]["offboard"]
    with DuckDBWarehouse(first / "warehouse.duckdb") as wh:  # the run re-scored is never changed
        assert wh.read_table("unlabelled_offboarding").num_rows == before > 3
    assert len(pd.read_csv(first / "offboarding.csv")) == before

    listed = riskops("runs", "list", "--all", cwd=tmp_path)
    lines = [x for x in listed.stdout.splitlines() if re.match(r"\S+\s+2\d{7}-", x)]
    assert len(lines) == 3 and sum(x.startswith("bank ") for x in lines) == 2, listed.stdout
    assert f"re-scores {first.name}" in listed.stdout
    compared = riskops("runs", "compare", first.name, rescored, cwd=tmp_path)
    assert compared.returncode == 0, compared.stderr
    assert f"left the list after {first.name}: {before - 3:,}" in compared.stdout
    left = pd.read_csv(first / "offboarding.csv", dtype={"customer_id": str})["customer_id"].iloc[3:]
    assert any(c in compared.stdout for c in left)

    # The service and the console, pointed at nothing but the home, serve the book of the last run: the re-scored.
    home = {**os.environ, "RISKOPS_HOME": str(tmp_path / "runs")}
    home.pop("RISKOPS_BOOK", None)
    digest_key = hashlib.sha256(KEY.encode()).hexdigest()
    keys = {"RISKOPS_API_KEY_HASHES": digest_key, "RISKOPS_REVIEWER_KEY_HASHES": digest_key}
    service, service_url = start_uvicorn(home | keys, tmp_path / "service.log")
    console, url = start_console(home, {"rita": "reviewer"}, service_url, KEY, tmp_path)
    try:
        served = httpx.get(f"{service_url}/v1/book/summary", headers={"x-api-key": KEY}, timeout=30).json()
        assert served["run_id"] == rescored
        assert (
            httpx.get(f"{service_url}/v1/model", headers={"x-api-key": KEY}).json()["version"]
            == (champions["bank"]["version"])
        )
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = browser.new_page()
            page.goto(f"{url}/book")
            page.get_by_label("Name").fill("rita")
            page.get_by_label("Password").fill("rita-pw")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state("networkidle")
            page.goto(f"{url}/review")
            assert f"Off-boarding list of run {rescored}: 3 customers" in " ".join(page.inner_text("main").split())
            browser.close()
    finally:
        stop(console)
        stop(service)
