"""Whole runs of the `riskops` CLI as a user types them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from riskops.amlsim import default_dir

pytestmark = pytest.mark.e2e
RISKOPS = str(Path(sys.executable).parent / "riskops")
QUICK = ("--trials", "1", "--tuning-timeout", "20")


def riskops(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "RISKOPS_HOME": str(cwd / "runs"), "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    return subprocess.run([RISKOPS, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=600)


def test_run_on_synthetic_defaults(tmp_path: Path) -> None:
    r = riskops("run", "--customers", "1500", "--seed", "5", *QUICK, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "[3/5] ingest + validate: unlabelled cohort" in r.stderr  # progress per step
    assert "[4/5] model" in r.stderr and "tuning: up to 1 trials" in r.stderr
    assert "[5/5] score" in r.stderr and "off-board" in r.stdout
    run_dirs = [p for p in (tmp_path / "runs").iterdir() if p.name != "models"]
    assert len(run_dirs) == 1
    meta = json.loads((run_dirs[0] / "run.json").read_text())
    assert meta["parameters"] == {"customers": 1500, "seed": 5, "as_of": "2026-09-30"}
    report = json.loads((run_dirs[0] / "validation" / "labelled" / "report.json").read_text())
    generated = json.loads((tmp_path / "data" / "synthetic-1500-seed5" / "manifest.json").read_text())
    assert report["status"] == "ok"
    assert report["customers"]["rows_clean"] == generated["customers"]["labelled"] == 1200
    assert report["transactions"]["rows_clean"] == generated["transactions"]["labelled"]
    assert f"report: {run_dirs[0] / 'report.html'}" in r.stdout
    report_md = (run_dirs[0] / "report.md").read_text()
    assert "## Off-boarding list" in report_md and "## Segments of the scored cohort" in report_md
    listing = (run_dirs[0] / "offboarding.csv").read_text().splitlines()
    assert listing[0] == "customer_id,score,segment,rules,offboard,reasons,rules_explained"
    assert len(listing) - 1 == meta["scoring"]["offboard"] > 0
    assert (run_dirs[0] / "warehouse.duckdb").exists()
    assert "CV logistic_regression" in r.stdout and "gate: PROMOTED - no champion yet" in r.stdout
    version = meta["model_version"]
    assert (tmp_path / "runs" / "models" / version / "evaluation" / "report.html").exists()
    listing = riskops("models", "list", cwd=tmp_path)
    assert listing.returncode == 0 and f"* {version}" in listing.stdout
    # A second run reuses the cached sample, gets its own folder and meets the champion at the gate.
    again = riskops("run", "--customers", "1500", "--seed", "5", *QUICK, "--margin", "1", cwd=tmp_path)
    assert again.returncode == 0 and "generating" not in again.stderr
    assert "gate: kept champion" in again.stdout
    assert len([p for p in (tmp_path / "runs").iterdir() if p.name != "models"]) == 2
    rolled = riskops("models", "rollback", cwd=tmp_path)
    assert rolled.returncode == 2 and "no earlier champion" in rolled.stderr
    runs = riskops("runs", "list", cwd=tmp_path)
    ids = [line.split()[0] for line in runs.stdout.splitlines()]
    assert len(ids) == 2
    diff = riskops("runs", "compare", *ids, cwd=tmp_path)
    assert diff.returncode == 0 and "model_version" in diff.stdout


@pytest.mark.skipif(not (default_dir() / "nodes.csv").exists(), reason="../shared/data/amlsim not present")
def test_run_on_amlsim(tmp_path: Path) -> None:
    r = riskops("run", "--data", "amlsim", "--amlsim-dir", str(default_dir()), *QUICK, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    report_path = next((tmp_path / "runs").glob("*/validation/labelled/report.json"))
    report = json.loads(report_path.read_text())
    share = report["labels"]["SUSPENDED"] / sum(report["labels"].values())
    assert 0.08 < share < 0.10
    assert report["customers"]["extra_columns"] == ["init_balance"]
    assert report["transactions"]["rows_quarantined"] == 0
    assert "CV catboost" in r.stdout and "model report:" in r.stdout


def test_users_own_csv_through_a_mapping_file(tmp_path: Path) -> None:
    (tmp_path / "crm.csv").write_text(
        "cust_no,opened,state,segment\n1,2025-01-05 10:00:00,open,retail\n2,2025-02-01 09:00:00,RISK_EXIT,sme\n"
        "3,2025-03-01 08:00:00,open,retail\n3,2025-03-01 08:00:00,open,retail\n"
    )
    (tmp_path / "ledger.csv").write_text(
        "id,cust_no,booked_at,amt,dc,ccy\n10,1,2026-01-01 10:00:00,12.5,CR,EUR\n11,2,2026-01-02 11:00:00,99,DR,EUR\n"
        "12,2,2026-01-03 12:00:00,-4,DR,EUR\n13,9,2026-01-03 12:00:00,4,DR,EUR\n14,1,2026-01-04 12:00:00,4,DR,EUR\n"
    )
    (tmp_path / "mapping.yaml").write_text(
        """
cohorts:
  labelled: {customers: crm, transactions: ledger}
customers:
  columns: {customer_id: cust_no, signup_ts: opened, account_state: state}
transactions:
  columns: {transaction_id: id, customer_id: cust_no, ts: booked_at, amount: amt, direction: dc, currency: ccy}
labels: {ACTIVE: [open], SUSPENDED: [risk_exit]}
directions: {in: [CR], out: [DR]}
max_quarantine_share: 0.5
"""
    )
    db = str(tmp_path / "w.duckdb")
    load = riskops(
        "load", "--customers", "crm.csv", "--transactions", "ledger.csv", "--mapping", "mapping.yaml",
        "--duckdb", db, cwd=tmp_path,
    )  # fmt: skip
    assert load.returncode == 0, load.stderr
    assert "crm: 4 rows" in load.stdout
    ing = riskops(
        "ingest", "--as-of", "2026-06-30", "--mapping", "mapping.yaml", "--duckdb", db,
        "--report-prefix", "manual/labelled", cwd=tmp_path,
    )  # fmt: skip
    assert ing.returncode == 0, ing.stderr + ing.stdout
    report = json.loads((tmp_path / "runs" / "manual" / "labelled" / "report.json").read_text())
    assert report["labels"] == {"ACTIVE": 1, "SUSPENDED": 1}
    assert report["customers"]["by_reason"] == {"duplicate_customer_id": 2}
    assert report["transactions"]["by_reason"] == {"negative_amount": 1, "unknown_customer": 1}
    assert "quarantined transactions by reason" in ing.stdout


def test_unusable_data_stops_with_the_report_path(tmp_path: Path) -> None:
    (tmp_path / "mapping.yaml").write_text("labels: {ACTIVE: [ACTIVE, SUSPENDED], SUSPENDED: [nothing]}\n")
    r = riskops("run", "--customers", "300", "--mapping", "mapping.yaml", *QUICK, cwd=tmp_path)
    assert r.returncode == 2
    assert "single class (ACTIVE)" in r.stderr
    assert "what to do:" in r.stderr and "report.json" in r.stderr
    report = json.loads(next((tmp_path / "runs").glob("*/validation/labelled/report.json")).read_text())
    assert report["status"] == "failed"


def test_generate_command_writes_a_dataset(tmp_path: Path) -> None:
    r = riskops("generate", "--out", "gen", "--customers", "400", "--seed", "9", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "transactions/s" in r.stdout
    assert pq.read_table(tmp_path / "gen" / "labelled" / "customers").num_rows == 320


def test_pipelines_run_locally_with_kfp_local(tmp_path: Path) -> None:
    r = riskops("pipeline", "run", "--customers", "1200", "--seed", "3", *QUICK, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    for task in ("ingest", "features", "train", "evaluate", "gate", "promote", "score", "report"):
        assert re.search(rf"Task .*{task}.* finished with status .*SUCCESS", r.stderr + r.stdout), task
    version = re.search(r"model (m[\d-]+) is the champion", r.stdout)
    assert version is not None, r.stdout
    assert "CV logistic_regression" in r.stdout and "off-board" in r.stdout and "report:" in r.stdout
    champion = json.loads((tmp_path / "runs" / "models" / "champion.json").read_text())
    assert champion["version"] == version.group(1)
    report = next((tmp_path / "runs").glob("*/report.html"))
    assert "Off-boarding list" in report.read_text()
    record = json.loads(report.with_name("run.json").read_text())
    assert record["model_version"] == version.group(1) and record["scoring"]["offboard"] > 0
    listed = riskops("runs", "list", cwd=tmp_path)
    assert record["run_id"] in listed.stdout
