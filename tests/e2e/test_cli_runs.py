"""Whole runs of the `riskops` CLI as a user types them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from riskops.data.amlsim import default_dir
from riskops.model.approval import default_person
from riskops.scoring.offboard import read_listing
from tests.e2e.banks import BANK_MAPPING, bank_layout

pytestmark = pytest.mark.e2e
RISKOPS = str(Path(sys.executable).parent / "riskops")
QUICK = ("--trials", "1", "--tuning-timeout", "20")


def book(cwd: Path, name: str = "synthetic") -> Path:
    """A book's folder under the home `riskops()` gives: its runs, registry and champion (its --data's name)."""
    return cwd / "runs" / "books" / name


def riskops(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "RISKOPS_HOME": str(cwd / "runs"), "COLUMNS": "200", "NO_COLOR": "1", **(env or {})}
    return subprocess.run([RISKOPS, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=600)


STEPS = [
    "ingest-labelled",
    "features-labelled",
    "train",
    "evaluate",
    "validate",
    "gate",
    "promote",
    "ingest-unlabelled",
    "score-shard-0",
    "score",
    "report",
]
SAME_DATA = ("--customers", "1500", "--seed", "5", *QUICK)


@pytest.fixture(scope="module")
def job_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    folder = tmp_path_factory.mktemp("job")
    return folder, riskops("run", *SAME_DATA, cwd=folder)


def _step_lines(stderr: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^\s+([a-z0-9-]+)\s+[\d.]+s\s", stderr, re.M)]


def test_run_on_synthetic_defaults(job_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    tmp_path, r = job_run
    assert r.returncode == 0, r.stderr
    assert _step_lines(r.stderr) == STEPS  # one line per step as it finishes
    assert "off-board" in r.stdout
    run_dirs = [p for p in book(tmp_path).iterdir() if p.name != "models"]
    assert len(run_dirs) == 1
    meta = json.loads((run_dirs[0] / "run.json").read_text())
    assert meta["parameters"] == {
        "as_of": "2026-09-30",
        "trials": 1,
        "tuning_timeout_s": 20.0,
        "seed": 5,
        "missed_cost": 5000.0,
        "offboard_cost": 400.0,
        "margin": 0.0,
        "outcomes": False,
        "family": "catboost",
        "mapping": {},
        "shards": 1,
        "registered_by": default_person(),  # no --by: the operating-system user
    }
    assert meta["flow"] == "job" and list(meta["timings_s"]) == STEPS[:-1]
    report = json.loads((run_dirs[0] / "validation" / "labelled" / "report.json").read_text())
    generated = json.loads((tmp_path / "data" / "synthetic-1500-seed5" / "manifest.json").read_text())
    assert report["status"] == "ok"
    assert report["customers"]["rows_clean"] == generated["customers"]["labelled"] == 1200
    assert report["transactions"]["rows_clean"] == generated["transactions"]["labelled"]
    assert f"report: {run_dirs[0] / 'report.html'}" in r.stdout
    report_md = (run_dirs[0] / "report.md").read_text()
    assert "## Off-boarding list" in report_md and "## Segments of the scored cohort" in report_md
    listing = (run_dirs[0] / "offboarding.csv").read_text().splitlines()
    assert listing[0].startswith("customer_id,score,segment,rules,reason_1,")
    assert listing[0].endswith(",rules_explained")
    assert all(len(x.split(",")[1].split(".")[-1]) <= 4 for x in listing[1:])  # scores to 4 decimals
    assert len(listing) - 1 == meta["scoring"]["offboard"] > 0
    assert (run_dirs[0] / "warehouse.duckdb").exists()
    assert "CV logistic_regression" in r.stdout and "gate: PROMOTED - no champion yet" in r.stdout
    version = meta["model_version"]
    assert (book(tmp_path) / "models" / version / "evaluation" / "report.html").exists()
    listing = riskops("models", "list", cwd=tmp_path)
    assert listing.returncode == 0 and f"* {version}" in listing.stdout
    # A second run reuses the cached sample, gets its own folder and meets the champion at the gate.
    again = riskops("run", "--customers", "1500", "--seed", "5", *QUICK, "--margin", "1", cwd=tmp_path)
    assert again.returncode == 0 and "generating" not in again.stderr
    assert "gate: kept champion" in again.stdout
    assert len([p for p in book(tmp_path).iterdir() if p.name != "models"]) == 2
    rolled = riskops("models", "rollback", cwd=tmp_path)
    assert rolled.returncode == 2 and "no earlier champion" in rolled.stderr
    runs = riskops("runs", "list", cwd=tmp_path)
    ids = [line.split()[0] for line in runs.stdout.splitlines()]
    assert len(ids) == 2
    diff = riskops("runs", "compare", *ids, cwd=tmp_path)
    assert diff.returncode == 0 and "trained" in diff.stdout and "gate.promote" in diff.stdout
    assert f"entered the list in {ids[1]}:" in diff.stdout and f"left the list after {ids[0]}:" in diff.stdout


def test_monitor_counts_the_lists_precision_from_outcomes(
    job_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """Outcomes for the scored customers (the generator's hidden truth, decided ten days after the cut-off):
    `riskops monitor` reports each run's precision as a hand count over its list, partial before maturity."""
    import pandas as pd
    import pyarrow as pa

    from riskops.io.warehouse.duckdb import DuckDBWarehouse

    tmp_path, r = job_run
    assert r.returncode == 0, r.stderr
    truth = pq.read_table(tmp_path / "data" / "synthetic-1500-seed5" / "truth.parquet").to_pandas()
    truth = truth[truth["customer_id"].str.startswith("U")]
    states = truth["suspended"].map({True: "SUSPENDED", False: "ACTIVE"})
    outcomes = pa.table(
        {
            "customer_id": truth["customer_id"],
            "account_state": states,
            "decided_at": pd.to_datetime(["2026-10-10"] * len(truth), utc=True),
            "source": ["account_state"] * len(truth),
        }
    )
    with DuckDBWarehouse(tmp_path / "outcomes.duckdb") as wh:
        wh.load("outcomes", outcomes)
    out = riskops("monitor", "--duckdb", str(tmp_path / "outcomes.duckdb"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"{len(truth):,} outcomes known" in out.stdout
    suspended = set(truth.loc[truth["suspended"], "customer_id"])
    for run in sorted(p for p in book(tmp_path).iterdir() if (p / "offboarding.csv").exists()):
        listed = pd.read_csv(run / "offboarding.csv")["customer_id"]
        precision = listed.isin(suspended).mean()
        line = next(x for x in out.stdout.splitlines() if f"run {run.name} " in x)
        assert "partial until 2026-12-30" in line and f"precision {precision:.1%}" in line, line
    assert list((book(tmp_path) / "monitoring").glob("*.json"))


def test_retraining_learns_from_the_outcomes_of_the_customers_a_run_scored(
    job_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """Outcomes of the scored (current) customers that came in after the run's cut-off become training examples
    with the features they were scored on: `riskops train --outcomes` on a copy of the run's warehouse."""
    import shutil

    import pyarrow as pa

    from riskops.io.warehouse.duckdb import DuckDBWarehouse

    tmp_path, r = job_run
    assert r.returncode == 0, r.stderr
    run_wh = sorted(book(tmp_path).glob("*/warehouse.duckdb"))[0]  # the job's first run (another may follow)
    copy = tmp_path / "retrain" / "warehouse.duckdb"
    copy.parent.mkdir()
    shutil.copy(run_wh, copy)
    truth = pq.read_table(tmp_path / "data" / "synthetic-1500-seed5" / "truth.parquet").to_pandas()
    truth = truth[truth["customer_id"].str.startswith("U")].head(200)
    with DuckDBWarehouse(copy) as wh:
        scored = set(wh.read_table("unlabelled_features").column("customer_id").to_pylist())
        wh.load(
            "outcomes",
            pa.table(
                {
                    "customer_id": truth["customer_id"],
                    "account_state": truth["suspended"].map({True: "SUSPENDED", False: "ACTIVE"}),
                    "decided_at": pd.to_datetime(["2026-10-10"] * len(truth), utc=True),
                    "source": ["core"] * len(truth),
                }
            ),
        )
    home = {"RISKOPS_HOME": str(tmp_path / "retrain")}
    out = riskops(
        "train",
        "--as-of",
        "2026-09-30",
        "--duckdb",
        str(copy),
        "--outcomes",
        "--no-promote",
        *QUICK,
        cwd=tmp_path,
        env=home,
    )
    assert out.returncode == 0, out.stderr
    (candidate,) = (tmp_path / "retrain").rglob("candidate.json")
    learned = json.loads(candidate.read_text())["outcome_examples"]
    known = truth[truth["customer_id"].isin(scored)]
    assert learned["rows"] == len(known) > 0 and learned["suspended"] == int(known["suspended"].sum())
    assert learned["cutoff"].startswith("2026-10-01")


def test_the_monitoring_pipeline_starts_training_only_when_the_policy_allows(
    job_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """The compiled monitoring spec with kfp.local: the latest run's drift section names a feature; under the
    default policy (retrain_on: never) only the monitor runs; with retrain_on: drift the nested training
    pipeline runs and registers a new version of the family the policy names (its gate decides the rest)."""
    from kfp import components, local

    from pipelines.runner import TaskOutput, _local_run, compile_all

    tmp_path, r = job_run
    assert r.returncode == 0, r.stderr
    home = book(tmp_path)
    latest = sorted(p for p in home.iterdir() if (p / "scores.parquet").exists())[-1]
    record = json.loads((latest / "run.json").read_text())
    record["scoring"]["drift"]["drifted"] = ["age"]
    (latest / "run.json").write_text(json.dumps(record))
    config = {"warehouse": "duckdb", "artifact_root": str(home), "duckdb_path": str(latest / "warehouse.duckdb")}
    spec = compile_all(tmp_path / "specs", config)["monitoring"]
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"), raise_on_error=True)
    versions = lambda: {p.name for p in (home / "models").iterdir() if (p / "card.json").exists()}  # noqa: E731
    for allowed, trains in (("never", False), ("drift", True)):
        policy = json.loads((latest / "policy.json").read_text())
        # The policy also names the family a retraining ships: the nested training pipeline gets it.
        (latest / "policy.json").write_text(
            json.dumps({**policy, "retrain_on": allowed, "family": "logistic_regression"})
        )
        before, steps = versions(), []
        with (tmp_path / f"monitor-{allowed}.log").open("w") as log, _local_run(TaskOutput(log, steps.append, None)):
            components.load_component_from_file(str(spec))(as_of="2026-09-30")
        assert [s.step for s in steps][:1] == ["monitor"] and steps[0].detail["attention"]
        assert ("train" in [s.step for s in steps]) is trains
        assert len(versions() - before) == (1 if trains else 0)
        for new in versions() - before:
            assert json.loads((home / "models" / new / "card.json").read_text())["family"] == "logistic_regression"


@pytest.mark.skipif(not (default_dir() / "nodes.csv").exists(), reason="../shared/data/amlsim not present")
def test_run_on_amlsim(tmp_path: Path) -> None:
    r = riskops("run", "--data", "amlsim", "--amlsim-dir", str(default_dir()), *QUICK, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    report_path = next(book(tmp_path, "amlsim").glob("*/validation/labelled/report.json"))
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
        "load",
        "--customers",
        "crm.csv",
        "--transactions",
        "ledger.csv",
        "--mapping",
        "mapping.yaml",
        "--duckdb",
        db,
        cwd=tmp_path,
    )
    assert load.returncode == 0, load.stderr
    assert "crm: 4 rows" in load.stdout
    ing = riskops(
        "ingest",
        "--as-of",
        "2026-06-30",
        "--mapping",
        "mapping.yaml",
        "--duckdb",
        db,
        "--report-prefix",
        "manual/labelled",
        cwd=tmp_path,
    )
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
    report = json.loads(next(book(tmp_path).glob("*/validation/labelled/report.json")).read_text())
    assert report["status"] == "failed"


def test_generate_command_writes_a_dataset(tmp_path: Path) -> None:
    r = riskops("generate", "--out", "gen", "--customers", "400", "--seed", "9", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "transactions/s" in r.stdout
    assert pq.read_table(tmp_path / "gen" / "labelled" / "customers").num_rows == 320


def test_pipelines_run_locally_with_kfp_local(
    tmp_path: Path, job_run: tuple[Path, subprocess.CompletedProcess[str]]
) -> None:
    """`riskops pipeline run` on the data `riskops run` used, scoring in four parallel shards (dsl.ParallelFor):
    the same steps (a task per shard), record fields, reports, and the same off-boarding list as one shard."""
    (tmp_path / "data").symlink_to(job_run[0] / "data")  # the cached dataset
    r = riskops("pipeline", "run", *SAME_DATA, "--shards", "4", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    four = [*STEPS[:8], "score-shard-0", "score-shard-1", "score-shard-2", "score-shard-3", *STEPS[9:]]
    assert sorted(_step_lines(r.stderr)) == sorted(four)  # the shards finish in any order
    said = (r.stderr + r.stdout).splitlines()
    progress = [line for line in said if re.fullmatch(r"  [a-zA-Z ]+ \d+/\d+ \(\d+s(, ~\d+s left)?\)", line)]
    assert "  imbalance folds 15/15" in " ".join(progress) and "  final fit 1/1" in " ".join(progress)  # per fold
    assert "Executing task" not in r.stderr + r.stdout and len(said) - len(progress) < 45
    assert "CV logistic_regression" in r.stdout and "gate: PROMOTED - no champion yet" in r.stdout
    report = next(book(tmp_path).glob("*/report.html"))
    log = report.with_name("pipeline.log").read_text()
    assert "Executing task" in log and "riskops-progress" in log  # the executor output, in the run folder
    record = json.loads(report.with_name("run.json").read_text())
    champion = json.loads((book(tmp_path) / "models" / "champion.json").read_text())
    assert champion["version"] == record["model_version"] == record["trained"]
    assert "Off-boarding list" in report.read_text() and "trained in this run and promoted" in report.read_text()
    job_dir = sorted(p for p in book(job_run[0]).iterdir() if p.name != "models")[0]  # its first run
    job = json.loads((job_dir / "run.json").read_text())
    assert set(record) == set(job) and record["flow"] == "pipeline"
    assert record["parameters"] == job["parameters"] | {"shards": 4}
    for key in ("as_of", "snapshots", "policy"):
        assert record[key] == job[key], key
    assert record["data"] == job["data"] == str((job_run[0] / "data" / "synthetic-1500-seed5").resolve())
    assert [s for s in record["timings_s"] if "shard" not in s] == [s for s in job["timings_s"] if "shard" not in s]
    shard_sizes = [s["figure"] for s in record["steps"] if s["step"].startswith("score-shard-")]
    assert len(shard_sizes) == 4 and all("of 4" in f for f in shard_sizes)
    one, four_lists = (read_listing((d / "offboarding.csv").read_text()) for d in (job_dir, report.parent))
    assert four_lists["customer_id"].tolist() == one["customer_id"].tolist()  # the same list, in the same order
    assert four_lists["reasons"].tolist() == one["reasons"].tolist()
    assert four_lists["score"].to_numpy() == pytest.approx(one["score"].to_numpy(), abs=1e-9)
    assert record["scoring"]["segments"] == job["scoring"]["segments"]
    assert record["gate"]["reason"] == job["gate"]["reason"] == "no champion yet"
    for metric in ("roc_auc", "pr_auc"):
        assert record["model_metrics"][metric] == pytest.approx(job["model_metrics"][metric], abs=1e-6)

    def sections(md: Path) -> list[str]:
        return [line for line in md.read_text().splitlines()[1:] if line.startswith("#")]

    assert sections(report.with_name("report.md")) == sections(job_dir / "report.md")
    listed = riskops("runs", "list", cwd=tmp_path)
    assert record["run_id"] in listed.stdout


def test_one_command_runs_the_pipelines_on_a_banks_own_folder_then_a_policy_rescores_it(
    tmp_path: Path, job_run: tuple[Path, subprocess.CompletedProcess[str]]
) -> None:
    """`riskops pipeline run --data FOLDER --mapping M`: the mapping reaches every isolated step through the
    specs' arguments; the cut-off comes from the data; then `riskops score --policy` changes the list without
    retraining."""
    folder = bank_layout(job_run[0] / "data" / "synthetic-1500-seed5", tmp_path / "book")
    (tmp_path / "mapping.yaml").write_text(BANK_MAPPING)
    r = riskops("pipeline", "run", "--data", "book", "--mapping", "mapping.yaml", *QUICK, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert _step_lines(r.stderr) == STEPS
    run_dir = next(book(tmp_path, "book").glob("*/run.json")).parent
    record = json.loads((run_dir / "run.json").read_text())
    assert record["flow"] == "pipeline" and record["data"] == str(folder.resolve())
    assert record["as_of"] == "2026-09-30"  # the last transaction day of the generated book
    ingest = json.loads((run_dir / "steps" / "ingest-labelled.json").read_text())
    assert ingest["parameters"]["mapping"]["customers"]["columns"]["customer_id"] == "Kunden Nr"
    validation = json.loads((run_dir / "validation" / "labelled" / "report.json").read_text())
    generated = pq.read_table(job_run[0] / "data" / "synthetic-1500-seed5" / "labelled" / "customers")
    truth = generated.column("account_state").to_pandas().value_counts().to_dict()
    assert validation["labels"] == truth and validation["status"] != "failed"  # every label mapped back
    assert {"KYC stufe", "Kunde_s Kanal"} <= set(validation["customers"]["extra_columns"])  # "'" loads as "_"
    scored = record["scoring"]["segments"]
    assert sum(scored.values()) == 300

    db = str(run_dir / "warehouse.duckdb")
    (tmp_path / "strict.yaml").write_text("high_cutoff: 0.01\nmedium_factor: 0.5\nmax_list_share: null\n")
    check = riskops("policy", "check", "strict.yaml", cwd=tmp_path)
    assert check.returncode == 0 and "High from a score of 0.010" in check.stdout
    default = riskops("score", "--as-of", "2026-09-30", "--duckdb", db, cwd=tmp_path)
    strict = riskops(
        "score", "--as-of", "2026-09-30", "--duckdb", db, "--policy", "strict.yaml", "--publish", cwd=tmp_path
    )
    assert default.returncode == 0 and strict.returncode == 0, default.stderr + strict.stderr
    listed = [int(re.search(r"off-board ([\d,]+)", x.stdout).group(1).replace(",", "")) for x in (default, strict)]  # type: ignore[union-attr]
    assert listed[1] > listed[0]  # a lower High cut-off lists more customers, from the same model
    assert "High from 0.010" in strict.stdout
    published = re.search(r"published as run (\S+):", strict.stdout).group(1)  # type: ignore[union-attr]
    served = json.loads((book(tmp_path, "book") / published / "policy.json").read_text())  # what the service reads
    assert served["high_cutoff"] == 0.01 and served["medium_factor"] == 0.5
    assert (book(tmp_path, "book") / published / "scores.parquet").exists()
    (tmp_path / "capped.yaml").write_text("high_cutoff: 0.01\ncapacity: 5\n")
    capped = riskops("score", "--as-of", "2026-09-30", "--duckdb", db, "--policy", "capped.yaml", cwd=tmp_path)
    assert capped.returncode == 0, capped.stderr
    said = " ".join(capped.stdout.split())
    assert (
        f"off-board 5 (the list is cut at 5 by the review capacity of 5 customers per run: the costs alone would "
        f"list {listed[1] - 5:,} more" in said
    ), said
    # Costs in the policy move the High cut-off of the calibrated champion: offboard / (offboard + missed).
    (tmp_path / "costs.yaml").write_text("missed_cost: 3600\noffboard_cost: 400\n")
    costs = riskops("score", "--as-of", "2026-09-30", "--duckdb", db, "--policy", "costs.yaml", cwd=tmp_path)
    factor = json.loads((book(tmp_path, "book") / "models" / "champion.json").read_text())["version"]
    factor = json.loads((book(tmp_path, "book") / "models" / factor / "card.json").read_text())["metrics"]
    medium = f"Medium from {0.1 * factor['medium_factor']:.3f}"  # the model's factor, chosen on its holdout
    assert costs.returncode == 0 and f"policy: High from 0.100, {medium}" in costs.stdout, costs.stderr
    (tmp_path / "typo.yaml").write_text("medium_facter: 0.3\n")
    typo = riskops("score", "--as-of", "2026-09-30", "--duckdb", db, "--policy", "typo.yaml", cwd=tmp_path)
    assert typo.returncode == 2 and "medium_facter: Extra inputs are not permitted" in typo.stderr


def test_an_attributes_only_book_runs_and_its_report_says_the_transactions_were_absent(
    tmp_path: Path, job_run: tuple[Path, subprocess.CompletedProcess[str]]
) -> None:
    folder = bank_layout(job_run[0] / "data" / "synthetic-1500-seed5", tmp_path / "book")
    for cohort in ("labelled", "unlabelled"):
        (folder / cohort / "transactions.parquet").unlink()
    (tmp_path / "mapping.yaml").write_text(BANK_MAPPING + "categorical: [KYC stufe]\n")
    no_date = riskops("run", "--data", "book", "--mapping", "mapping.yaml", *QUICK, cwd=tmp_path)
    assert no_date.returncode == 2 and "pass --as-of" in no_date.stderr
    r = riskops("run", "--data", "book", "--mapping", "mapping.yaml", "--as-of", "2026-09-30", *QUICK, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "warning: labelled: no transactions in the labelled cohort" in r.stdout
    report = next(book(tmp_path, "book").glob("*/report.md")).read_text()
    assert "## Data warnings" in report and "the transaction features are absent" in report
    record = json.loads(next(book(tmp_path, "book").glob("*/run.json")).read_text())
    assert sum(record["scoring"]["segments"].values()) == 300
    card = json.loads(next((book(tmp_path, "book") / "models").glob("*/card.json")).read_text())
    assert "KYC stufe" in card["categorical"]  # declared in the mapping: a category, though its values are numbers


def test_the_credit_book_runs_calibrated_monotone_and_its_list_never_swallows_the_book(tmp_path: Path) -> None:
    """The second book shape in one command: integer-coded attributes taken as categories, types and windows
    fitted to monthly statements, calibrated scores, segments that order the risk; with costs that would list
    most of a book with one customer in five defaulting, the list stops at 10% and the run says what it cut."""
    (tmp_path / "policy.yaml").write_text("missed_cost: 5000\noffboard_cost: 400\nfamily: best\n")
    r = riskops("run", "--data", "credit", "--customers", "3000", "--policy", "policy.yaml", *QUICK, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "WARNING" not in r.stdout  # the holdout's segments rise Low < Medium < High
    card = json.loads(next((book(tmp_path, "credit") / "models").glob("*/card.json")).read_text())
    assert "education" in card["categorical"]  # a code, taken as a category
    # Sex, age and marital status are protected: no feature, no reason; each group measured, the report says it.
    assert not {"sex", "age", "marriage"} & set(card["features"])
    assert set(card["metrics"]["fairness"]) == {"sex", "age", "marriage"}
    assert set(card["metrics"]["fairness"]["age"]["groups"]) >= {"25-34", "35-44"}
    # `family: best`: the logistic regression's CV PR-AUC is within the folds' noise of CatBoost's here.
    assert card["family"] == "catboost" and card["family_reason"].startswith("best CV PR-AUC"), card["family_reason"]
    assert card["feature_config"]["attribute_words"]["limit_bal"] == "credit limit"
    assert card["feature_config"]["types"] == ["bill", "payment"] and 7 not in card["feature_config"]["windows"]
    assert 0.8 <= card["metrics"]["calibration_slope"] <= 1.2, card["metrics"]["calibration_slope"]
    rates = [card["metrics"]["segments"][s]["rate"] for s in ("Low", "Medium", "High")]
    assert rates == sorted(rates)
    record = json.loads(next(book(tmp_path, "credit").glob("*/run.json")).read_text())
    scored = record["scoring"]
    assert scored["list_share"] <= 0.10 and scored["offboard"] == scored["list_limit"]
    assert scored["over_limit"] > scored["offboard"]  # the costs alone would list several times more
    assert record["policy"]["high_cutoff"] == pytest.approx(400 / 5400)  # from the policy's costs
    assert f"the costs alone would list {scored['over_limit']:,} more" in " ".join((r.stdout + r.stderr).split())
    report = next(book(tmp_path, "credit").glob("*/report.md")).read_text()
    assert "Fairness across protected groups" in report and "sex: listed-share ratio" in report
    assert "by the policy's max_list_share, 10% of the" in report and "expected cost" in report
    check = riskops("policy", "check", "policy.yaml", cwd=tmp_path)
    assert check.returncode == 0 and "(max_list_share)" in " ".join(check.stdout.split()), check.stdout
    assert "no rule fits this book: a Medium customer is never listed" in " ".join(check.stdout.split())
    assert "Not used here (they do not fit this book): " in report and "| structuring |" not in report  # named once
    plain = report.replace("\\", "")  # Markdown escapes undone
    assert "structuring (its threshold is in EUR; the book is in TWD)" in plain
    assert "pass_through (it is about transfer, cash_deposit, withdrawal, crypto" in plain
    assert "a Medium customer is never listed" in report and "crime" not in report  # no rule fits a credit book
    assert "defaulted" in report and "SUSPENDED" not in report  # the book's own word for its outcome
    listing = read_listing(next(book(tmp_path, "credit").glob("*/offboarding.csv")).read_text())
    assert not listing["reasons"].str.contains("customer attribute limit_bal").any()  # said in the book's words
    said = " ".join(listing["reasons"].fillna("")) + " ".join(listing["rules_explained"].fillna(""))
    for aml in ("fan-in", "fan-out", "micro-transfer", "reporting threshold", "mule", "high-risk", "structuring"):
        assert aml not in said, aml  # no AML wording on a credit book
    catalogue = next(book(tmp_path, "credit").glob("*/features/catalogue.md")).read_text()
    assert "credit limit" in catalogue and "education (code" in catalogue  # the words reasons would use
    assert "marital status" not in catalogue and "age in years" not in catalogue  # protected: no features
    assert not listing["reasons"].fillna("").str.contains("sex|marital|age in years").any()


def test_a_policy_change_rescores_with_the_champion_instead_of_retraining(
    tmp_path: Path, job_run: tuple[Path, subprocess.CompletedProcess[str]]
) -> None:
    """`riskops run --policy` on the data the champion learned from, with the same configuration: no new model,
    the champion re-scores under the new policy and the run says so."""
    (tmp_path / "data").symlink_to(job_run[0] / "data")  # the cached dataset
    assert riskops("run", *SAME_DATA, cwd=tmp_path).returncode == 0
    (champion,) = [p.name for p in (book(tmp_path) / "models").iterdir() if (p / "card.json").exists()]
    (tmp_path / "strict.yaml").write_text("high_cutoff: 0.05\n")
    r = riskops("run", *SAME_DATA, "--policy", "strict.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert _step_lines(r.stderr) == [
        "ingest-labelled", "features-labelled", "reuse", "ingest-unlabelled", "score-shard-0", "score", "report"
    ]  # fmt: skip
    assert f"model: {champion} was trained on this data and configuration" in " ".join(r.stdout.split())
    assert [p.name for p in (book(tmp_path) / "models").iterdir() if (p / "card.json").exists()] == [champion]
    latest = sorted(book(tmp_path).glob("2*/run.json"))[-1]
    record = json.loads(latest.read_text())
    assert record["scoring"]["model_version"] == champion and record["policy"]["high_cutoff"] == 0.05
