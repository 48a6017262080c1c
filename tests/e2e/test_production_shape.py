"""The chain in production shape: both pipelines compiled with a BigQuery + GCS configuration and run from
the compiled specs with kfp.local, every task its own process in its own empty folder with its own HOME and
no inherited environment (no shared disk, no DuckDB file), against the BigQuery and GCS emulators. Then the
service, a real uvicorn, starts on the same gs:// root in an empty folder, serves the champion the pipeline
promoted and answers from the run the pipeline published. The result is compared with the in-process run on
DuckDB and a local folder over the same data."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipelines.runner import compile_all, run_specs, spec_config
from riskops.core.config import Settings, StepConfig
from riskops.core.errors import RiskOpsError
from riskops.data.contract import as_of_cutoff
from riskops.data.sources import dataset_as_of, load_dataset
from riskops.data.synth import generate
from riskops.io.artifacts import open_store
from riskops.io.warehouse import open_warehouse
from riskops.model.registry import Registry
from riskops.runs.job import run_steps
from riskops.runs.parameters import RunParameters
from riskops.runs.record import RunRecord, StepRecord, read_record
from tests.integration.conftest import start_uvicorn, stop

pytestmark = pytest.mark.e2e
PARAMS = RunParameters(trials=2, tuning_timeout_s=600, seed=3)  # a trial budget, not a clock: deterministic


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,200 customers with their last 100 days of transactions: the BigQuery emulator evaluates a statement
    over 100k rows in about a minute, so the sample is kept small (every window up to 90 days stays full)."""
    out = tmp_path_factory.mktemp("data") / "book"
    generate(out, customers=1200, seed=3, chunk_size=600)
    since = as_of_cutoff(date.fromisoformat(dataset_as_of(out))) - timedelta(days=100)
    for folder in out.glob("*/transactions"):
        table = pq.read_table(folder)
        kept = table.filter(pc.greater_equal(table["ts"], pa.scalar(since, table.schema.field("ts").type)))
        shutil.rmtree(folder)
        folder.mkdir()
        pq.write_table(kept, folder / "part-0.parquet")
    return out


@pytest.fixture(scope="module")
def production(
    dataset: Path, bigquery_settings: Settings, gcs_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The bank's raw tables loaded into BigQuery beforehand (as `riskops load` does), then both pipelines."""
    settings = bigquery_settings.model_copy(
        update={"bq_dataset": "riskops_prod", "gcs_endpoint": gcs_endpoint, "artifact_root": "gs://riskops-it/prod"}
    )
    with open_warehouse(settings) as wh:
        load_dataset(wh, dataset)
    config = StepConfig.from_settings(settings)
    work = tmp_path_factory.mktemp("production")
    specs = compile_all(work / "specs", config.model_dump())
    assert spec_config(specs["training"]) == spec_config(specs["scoring"]) == config.model_dump()
    steps: list[StepRecord] = []
    as_of = dataset_as_of(dataset)
    started = time.perf_counter()
    out = run_specs(
        specs,
        work / "run",
        {"training": {"as_of": as_of, **PARAMS.training()}, "scoring": {"as_of": as_of, **PARAMS.scoring()}},
        steps.append,
    )
    store = open_store(config.artifact_root, gcs_endpoint)
    record = read_record(store, out["run_id"])
    print(
        "production-shape run:",
        f"{time.perf_counter() - started:.1f}s;",
        ", ".join(f"{s.step} {s.seconds:.1f}s" for s in steps),
    )
    return {"record": record, "store": store, "steps": steps, "config": config, "out": out, "work": work}


@pytest.fixture(scope="module")
def local(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same run in process (`riskops run`'s flow) on DuckDB and a local folder."""
    work = tmp_path_factory.mktemp("local")
    settings = Settings(warehouse="duckdb", artifact_root=str(work / "store"), home=work)
    config = StepConfig.from_settings(settings, work / "w.duckdb").model_dump()
    run_steps(config, "local-run", dataset, date.fromisoformat(dataset_as_of(dataset)), PARAMS)
    store = open_store(str(work / "store"))
    return {"record": read_record(store, "local-run"), "store": store}


def test_every_step_ran_isolated_and_recorded_one_run(production: dict[str, Any]) -> None:
    record: RunRecord = production["record"]
    order = [
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
    assert [s.step for s in production["steps"]] == order  # one line per finished step, in order
    assert list(record.timings_s) == order[:-1] and all(t > 0 for t in record.timings_s.values())
    assert record.flow == "pipeline" and record.data == "raw tables in the warehouse (bigquery)"
    assert record.trained == record.model_version and record.gate and record.gate["promote"]
    assert production["out"]["report"] == f"gs://riskops-it/prod/{record.run_id}/report.html"
    store = production["store"]
    assert Registry(store).champion() == record.model_version
    for name in (
        "run.json",
        "report.html",
        "scores.parquet",
        "offboarding.csv",
        "policy.json",
        "validation/labelled/report.json",
        "validation/unlabelled/report.json",
    ):
        assert store.exists(f"{record.run_id}/{name}"), name
    assert "trained in this run and promoted: no champion yet" in store.read_text(f"{record.run_id}/report.md")
    assert not list((production["work"] / "run").glob("**/*.duckdb"))  # no warehouse on local disk
    assert "riskops-step" in (production["work"] / "run" / "pipeline.log").read_text()


def test_the_same_result_as_the_local_run(production: dict[str, Any], local: dict[str, Any]) -> None:
    prod, loc = production["record"], local["record"]
    assert prod.parameters == loc.parameters
    assert prod.snapshots["labelled"]["fingerprint"] == loc.snapshots["labelled"]["fingerprint"]
    assert set(prod.model_fields_set) == set(loc.model_fields_set)
    for metric in ("roc_auc", "pr_auc", "brier"):
        assert prod.model_metrics[metric] == pytest.approx(loc.model_metrics[metric], abs=0.01), metric
    assert prod.scoring and loc.scoring
    assert prod.scoring["segments"] == loc.scoring["segments"]
    lists = [
        pd.read_csv(pd.io.common.StringIO(r["store"].read_text(f"{r['record'].run_id}/offboarding.csv")))
        for r in (production, local)
    ]
    assert set(lists[0]["customer_id"]) == set(lists[1]["customer_id"]) and len(lists[0]) > 0


@pytest.fixture(scope="module")
def service(production: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn on the pipeline's gs:// root, from an empty folder: nothing local to fall back on."""
    cfg: StepConfig = production["config"]
    home = tmp_path_factory.mktemp("svc-home")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "RISKOPS_HOME": str(home / "runs"),
        "RISKOPS_ARTIFACT_ROOT": cfg.artifact_root,
        "RISKOPS_GCS_ENDPOINT": cfg.gcs_endpoint,
        "RISKOPS_ACCESS_LOG": "false",  # review decisions go to the pipeline's BigQuery dataset
        "RISKOPS_WAREHOUSE": "bigquery",
        "RISKOPS_BQ_PROJECT": cfg.bq_project,
        "RISKOPS_BQ_DATASET": cfg.bq_dataset,
        "RISKOPS_BQ_ENDPOINT": cfg.bq_endpoint,
        "RISKOPS_BQ_STORAGE_ENDPOINT": cfg.bq_storage_endpoint,
    }
    proc, url = start_uvicorn(env, home / "uvicorn.log", cwd=home)
    try:
        yield url
    finally:
        stop(proc)


def test_the_service_serves_what_the_pipeline_published(
    production: dict[str, Any], service: str, bigquery_settings: Settings
) -> None:
    record: RunRecord = production["record"]
    model = httpx.get(f"{service}/v1/model").json()
    assert model["version"] == record.model_version
    listing = pd.read_csv(pd.io.common.StringIO(production["store"].read_text(f"{record.run_id}/offboarding.csv")))
    top = listing.iloc[0]
    got = httpx.get(f"{service}/v1/customers/{top['customer_id']}/risk").json()
    assert got["run_id"] == record.run_id and got["offboard"] is True
    assert got["score"] == pytest.approx(top["score"], abs=5e-5) and got["segment"] == top["segment"]  # 4 decimals
    # The console's book, built by the isolated score step on the emulators, is what the service answers from.
    profile = httpx.get(f"{service}/v1/customers/{top['customer_id']}/profile").json()
    assert profile["run_id"] == record.run_id and profile["score"] == pytest.approx(top["score"], abs=5e-5)
    assert profile["reasons"] and profile["contributions"] and profile["offboard"] is True
    # The batch route on the run's own features decides as the list did.
    settings = bigquery_settings.model_copy(update={"bq_dataset": "riskops_prod"})
    with open_warehouse(settings) as wh:
        features = wh.read_table("unlabelled_features").to_pandas().sort_values("customer_id").head(300)
    names = Registry(production["store"]).card(record.model_version).features
    columns = {n: [None if pd.isna(v) else (v if isinstance(v, str) else float(v)) for v in features[n]] for n in names}
    body = {"customer_id": features["customer_id"].tolist(), "features": columns}
    r = httpx.post(f"{service}/v1/score/batch", json=body, timeout=30)
    assert r.status_code == 200, r.text
    served = dict(zip(features["customer_id"], r.json()["offboard"], strict=True))
    listed = set(listing["customer_id"])
    assert {c for c, off in served.items() if off} == {c for c in served if c in listed}


def test_a_step_without_its_configuration_stops_the_run(dataset: Path, tmp_path: Path, gcs_endpoint: str) -> None:
    """Compiled without the artifact root, the first task stops and names what is missing: it does not fall
    back to a local folder."""
    config = {
        "warehouse": "bigquery",
        "bq_project": "local",
        "bq_dataset": "riskops_prod",
        "artifact_root": "",
        "gcs_endpoint": gcs_endpoint,
    }
    specs = compile_all(tmp_path / "specs", config)
    with pytest.raises(RiskOpsError) as e:
        run_specs(
            specs, tmp_path / "run", {"training": {"as_of": dataset_as_of(dataset)}, "scoring": {}}, lambda r: None
        )
    assert "step configuration lacks artifact_root" in str(e.value)
    assert not list(tmp_path.glob("**/models"))


def test_a_four_eyes_decision_through_the_service_lands_in_bigquery_as_an_outcome(
    production: dict[str, Any], service: str, bigquery_settings: Settings
) -> None:
    """What the console does, against the service on the emulators: a reviewer off-boards a listed customer,
    an approver confirms; the decisions table in the pipeline's BigQuery dataset holds both, and the monitoring
    reads the customer as SUSPENDED."""
    from riskops.runs.monitor import read_outcomes
    from riskops.scoring.review import DECISIONS

    record: RunRecord = production["record"]
    listing = pd.read_csv(pd.io.common.StringIO(production["store"].read_text(f"{record.run_id}/offboarding.csv")))
    cid = str(listing.iloc[0]["customer_id"])
    path = f"{service}/v1/review/customers/{cid}/decisions"
    for name, role, action in (("rita", "reviewer", "offboard"), ("alex", "approver", "confirm")):
        r = httpx.post(
            path,
            json={"run_id": record.run_id, "action": action, "comment": "checked"},
            timeout=60,
            headers={"X-Riskops-Staff": name, "X-Riskops-Staff-Role": role},
        )
        assert r.status_code == 201, r.text
    read = httpx.get(f"{service}/v1/review/decisions", params={"customer_id": cid}, timeout=60).json()["decisions"]
    assert [(d["user"], d["action"]) for d in read] == [("rita", "offboard"), ("alex", "confirm")]
    with open_warehouse(bigquery_settings.model_copy(update={"bq_dataset": "riskops_prod"})) as wh:
        assert wh.count(DECISIONS) == 2
        outcomes = read_outcomes(wh).set_index("customer_id")["account_state"].to_dict()
    assert outcomes[cid] == "SUSPENDED"
