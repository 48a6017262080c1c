"""The compiled pipeline specs, the components' functions, and the library's independence from KFP."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from riskops.io.artifacts import LocalStore
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from riskops.model.config import CostMatrix, TrainConfig
from riskops.model.registry import Registry
from riskops.runs.candidate import train_and_register
from riskops.runs.parameters import DEFAULTS
from riskops.runs.record import read_steps

ROOT = Path(__file__).resolve().parents[2]
CONFIG = {
    "warehouse": "bigquery",
    "artifact_root": "gs://acme-risk/riskops",
    "bq_project": "acme",
    "bq_dataset": "risk",
    "bq_location": "europe-west4",
}


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:  # type: ignore[type-arg]
    import os

    os.environ["RISKOPS_IMAGE"] = "europe-docker.pkg.dev/acme/riskops/riskops:1.2.3"
    try:
        import importlib
        import sys

        for name in [m for m in sys.modules if m == "components" or m.startswith(("components.", "pipelines"))]:
            del sys.modules[name]
        runner = importlib.import_module("pipelines.runner")
        paths = runner.compile_all(tmp_path_factory.mktemp("specs"), CONFIG)
    finally:
        del os.environ["RISKOPS_IMAGE"]
    return {name: yaml.safe_load(path.read_text()) for name, path in paths.items()}


def test_training_spec_has_the_steps_the_image_and_the_gate(specs: dict[str, dict]) -> None:  # type: ignore[type-arg]
    spec = specs["training"]
    assert spec["pipelineInfo"]["name"] == "riskops-training"
    executors = spec["deploymentSpec"]["executors"]
    assert {e.removeprefix("exec-") for e in executors} == {
        "ingest",
        "features",
        "train",
        "evaluate",
        "validate",
        "gate",
        "promote",
    }
    assert {e["container"]["image"] for e in executors.values()} == {"europe-docker.pkg.dev/acme/riskops/riskops:1.2.3"}
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert {"as_of", "trials", "tuning_timeout_s", "missed_cost", "offboard_cost", "margin", "seed", "mapping"} <= set(
        params
    )
    assert params["trials"]["defaultValue"] == DEFAULTS.trials and params["margin"]["defaultValue"] == DEFAULTS.margin
    # Where every step finds the warehouse and the store travels in the spec, and every task is given it.
    assert params["config"]["defaultValue"] == CONFIG
    for name, task in spec["root"]["dag"]["tasks"].items():
        if name.startswith("condition"):
            continue
        assert task["inputs"]["parameters"]["config"]["componentInputParameter"] == "config", name
    tasks = spec["root"]["dag"]["tasks"]
    condition = tasks["condition-1"]["triggerPolicy"]["condition"]
    assert "gate-Output" in condition and "== true" in condition
    assert "promote" in spec["components"]["comp-condition-1"]["dag"]["tasks"]
    # Artifacts travel as artifacts: a Model, Markdown/HTML reports and Metrics.
    train_outputs = spec["components"]["comp-train"]["outputDefinitions"]["artifacts"]
    assert train_outputs["model"]["artifactType"]["schemaTitle"] == "system.Model"
    assert train_outputs["metrics"]["artifactType"]["schemaTitle"] == "system.Metrics"
    assert (
        spec["components"]["comp-evaluate"]["outputDefinitions"]["artifacts"]["report"]["artifactType"]["schemaTitle"]
        == "system.HTML"
    )


def test_scoring_spec(specs: dict[str, dict]) -> None:  # type: ignore[type-arg]
    spec = specs["scoring"]
    executors = {e.removeprefix("exec-") for e in spec["deploymentSpec"]["executors"]}
    assert executors == {"ingest", "shard-plan", "score-shard", "score", "report"}
    tasks = spec["root"]["dag"]["tasks"]
    loop = (
        tasks["for-loop-2"] if "for-loop-2" in tasks else next(t for n, t in tasks.items() if n.startswith("for-loop"))
    )
    assert loop["parameterIterator"]["items"]["inputParameter"].endswith("shard-plan-Output")
    assert "score-shard" in spec["components"][loop["componentRef"]["name"]]["dag"]["tasks"]
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert set(params) == {"as_of", "config", "run_id", "dataset_dir", "mapping", "policy", "shards"}
    assert params["shards"]["defaultValue"] == 1
    assert params["config"]["defaultValue"] == CONFIG and params["policy"]["defaultValue"] == {}
    # The mapping travels as an argument of the run to the ingest step, the one step that reads source names.
    assert params["mapping"]["defaultValue"] == {}
    ingest_args = spec["root"]["dag"]["tasks"]["ingest"]["inputs"]["parameters"]
    assert ingest_args["mapping"]["componentInputParameter"] == "mapping"


def test_monitoring_spec_nests_training_under_the_monitors_verdict(specs: dict[str, dict]) -> None:  # type: ignore[type-arg]
    spec = specs["monitoring"]
    executors = {e.removeprefix("exec-") for e in spec["deploymentSpec"]["executors"]}
    assert executors == {"monitor", "ingest", "features", "train", "evaluate", "validate", "gate", "promote"}
    tasks = spec["root"]["dag"]["tasks"]
    (condition,) = [t for t in tasks.values() if "triggerPolicy" in t]
    assert "pipelinechannel--monitor-Output" in condition["triggerPolicy"]["condition"]
    # The nested training ships the family the monitor returns (the monitored run's policy's).
    family = condition["inputs"]["parameters"]["pipelinechannel--monitor-Output"]["taskOutputParameter"]
    assert family == {"outputParameterKey": "Output", "producerTask": "monitor"}
    assert spec["root"]["inputDefinitions"]["parameters"]["config"]["defaultValue"] == CONFIG
    assert spec["deploymentSpec"]["executors"]["exec-monitor"]["container"]["image"].endswith("riskops:1.2.3")
    # The policy's fairness limits and list share reach the retraining's gate, as in the training pipeline.
    passed = condition["inputs"]["parameters"]
    assert {"pipelinechannel--fairness", "pipelinechannel--max_list_share"} <= set(passed)


def test_gate_and_promote_components_call_the_library(
    ingested: DuckDBWarehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from components.gate import gate
    from components.promote import promote

    store_root = tmp_path / "store"
    config = {"warehouse": "duckdb", "artifact_root": str(store_root), "duckdb_path": str(tmp_path / "w.duckdb")}
    card, _ = train_and_register(
        ingested,
        LocalStore(store_root),
        date(2026, 9, 30),
        TrainConfig(folds=3, trials=0, max_iterations=50, baselines=False, imbalance="none"),
        CostMatrix(),
        promote=False,
    )

    class FakeMetrics:
        def __init__(self) -> None:
            self.logged: dict[str, float] = {}

        def log_metric(self, k: str, v: float) -> None:
            self.logged[k] = v

    m = FakeMetrics()
    assert (
        gate.python_func(
            config=config, version=card.version, run_id="r1", margin=0.0, fairness={}, max_list_share=1.0, metrics=m
        )
        is True
    )
    assert "challenger_pr_auc" in m.logged  # no champion yet
    assert promote.python_func(config=config, version=card.version, run_id="r1") == card.version
    assert Registry(LocalStore(store_root)).champion() == card.version
    steps = read_steps(LocalStore(store_root), "r1")
    assert [s.step for s in steps] == ["gate", "promote"] and steps[0].detail["reason"] == "no champion yet"


def test_a_failing_ingest_leaves_its_report_and_stops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from components.ingest import ingest
    from riskops.core.errors import DataContractError

    config = {
        "warehouse": "duckdb",
        "artifact_root": str(tmp_path / "store"),
        "duckdb_path": str(tmp_path / "empty.duckdb"),
    }

    class Out:
        def __init__(self, path: Path) -> None:
            self.path = str(path)

        def log_metric(self, k: str, v: float) -> None:
            raise AssertionError("no metrics from a failed step")

    report = Out(tmp_path / "report.md")
    with pytest.raises(DataContractError):
        ingest.python_func(
            config=config,
            cohort="labelled",
            as_of="2026-09-30",
            run_id="",
            dataset_dir="",
            mapping={},
            report=report,
            metrics=Out(tmp_path / "m"),
        )
    text = Path(report.path).read_text()
    assert "Ingest stopped the run" in text and "raw_labelled_customers for customers does not exist" in text


@pytest.mark.parametrize(
    ("config", "missing"),
    [
        ({}, "no step configuration"),
        ({"warehouse": "bigquery", "artifact_root": "gs://b/p"}, "lacks bq_project"),
        ({"warehouse": "duckdb", "artifact_root": "gs://b/p"}, "lacks duckdb_path"),
        ({"warehouse": "duckdb", "artifact_root": "", "duckdb_path": "/w.duckdb"}, "lacks artifact_root"),
        ({"warehouse": "duckdb", "artifact_root": "runs", "duckdb_path": "/w.duckdb"}, "is relative"),
        ({"warehouse": "oracle", "artifact_root": "gs://b/p"}, "warehouse: Input should be"),
        ({"warehouse": "duckdb", "artifact_root": "/a", "duckdb_path": "/w", "bq_projekt": "x"}, "bq_projekt"),
    ],
)
def test_an_incomplete_step_configuration_is_refused_by_name(config: dict, missing: str) -> None:  # type: ignore[type-arg]
    from riskops.core.config import StepConfig
    from riskops.core.errors import ConfigError

    with pytest.raises(ConfigError, match=missing):
        StepConfig.parse(config)


def test_the_steps_environment_does_not_configure_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from riskops.core.config import StepConfig

    monkeypatch.setenv("RISKOPS_WAREHOUSE", "bigquery")
    monkeypatch.setenv("RISKOPS_ARTIFACT_ROOT", "gs://elsewhere/x")
    monkeypatch.setenv("RISKOPS_BQ_ENDPOINT", "http://127.0.0.1:1")
    cfg = StepConfig.parse({"warehouse": "duckdb", "artifact_root": str(tmp_path), "duckdb_path": "/w.duckdb"})
    settings = cfg.settings()
    assert (settings.warehouse, settings.artifacts, settings.bq_endpoint) == ("duckdb", str(tmp_path), None)


def test_each_task_asks_for_the_cpu_and_memory_of_its_book_size(tmp_path: Path) -> None:
    from pipelines.runner import compile_all
    from pipelines.sizing import sizing_for

    def resources(spec: Path) -> dict[str, tuple[str, str]]:
        executors = yaml.safe_load(spec.read_text())["deploymentSpec"]["executors"]
        return {
            k.removeprefix("exec-"): (
                e["container"]["resources"]["resourceCpuRequest"],
                e["container"]["resources"]["resourceMemoryLimit"],
            )
            for k, e in executors.items()
        }

    small = compile_all(tmp_path / "small", CONFIG)  # the demo's 20,000 customers
    big = compile_all(tmp_path / "big", CONFIG, customers=2_000_000)
    assert resources(small["training"])["train"] == ("4", "8G") and resources(big["training"])["train"] == ("8", "32G")
    assert resources(big["scoring"])["score"] == ("4", "32G") and resources(big["scoring"])["report"] == ("1", "2G")
    assert resources(big["monitoring"])["train"] == ("8", "32G")  # the nested training pipeline too
    every = {**resources(big["training"]), **resources(big["scoring"]), **resources(big["monitoring"])}
    assert set(every) == {
        "ingest",
        "features",
        "train",
        "evaluate",
        "validate",
        "gate",
        "promote",
        "shard-plan",
        "score-shard",
        "score",
        "report",
        "monitor",
    }
    shards = yaml.safe_load(big["scoring"].read_text())["root"]["inputDefinitions"]["parameters"]["shards"]
    assert shards["defaultValue"] == 2 == sizing_for(2_000_000).shards
    assert sizing_for(60_000_000).tier == "xlarge" and sizing_for(1).tier == "small"
    with pytest.raises(ValueError, match="at least one customer"):
        sizing_for(0)
