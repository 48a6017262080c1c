"""The run without KFP (`riskops run`): prepare the data, then the same steps as the two pipelines, in the
same order with the same inputs (riskops.runs.steps), in this process. The run folder, the record and the reports
are the ones the pipelines write.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from riskops.core.config import Settings, StepConfig
from riskops.core.errors import DataContractError, RiskOpsError
from riskops.core.identity import new_run_id
from riskops.core.progress import Say, Tick
from riskops.data.amlsim import default_dir, load_amlsim
from riskops.data.contract import Cohort, Mapping
from riskops.data.credit import MAPPING as CREDIT_MAPPING
from riskops.data.credit import generate_credit
from riskops.data.sources import dataset_as_of, dataset_cohorts
from riskops.data.synth import DEFAULT_CUSTOMERS, generate
from riskops.io.artifacts import ArtifactStore, open_store
from riskops.runs import steps
from riskops.runs.parameters import DEFAULTS, RunParameters
from riskops.runs.record import Finished, RunRecord, read_record, record_failure
from riskops.runs.report import list_runs, run_summary
from riskops.scoring.policy import OffboardConfig

log = logging.getLogger(__name__)


EMBEDDED = ("synthetic", "credit", "amlsim")  # the data a run can make itself; anything else names a folder


def default_mapping(source: str) -> Mapping:
    """The mapping a run uses when none is given: the credit book declares its coded attributes categorical and
    sex, age and marital status protected."""
    return CREDIT_MAPPING if source == "credit" else Mapping()


def prepare_data(
    source: str,
    data_root: Path,
    customers: int,
    seed: int,
    amlsim_dir: Path | None,
) -> Path:
    """The dataset folder for `source`: `synthetic` (generated, cached by its parameters), `credit` (a credit-card
    book, likewise), `amlsim` (converted once), or the path of a user's folder (labelled/ and unlabelled/, see
    `riskops.data.sources.cohort_source`)."""
    if source not in EMBEDDED:
        folder = Path(source).expanduser()
        if not folder.is_dir():
            raise DataContractError(
                f"--data {source}: not one of {', '.join(EMBEDDED)}, and no such folder",
                str(folder.absolute()),
                f"pass {', '.join(EMBEDDED)}, or the folder of your book (labelled/ and unlabelled/ in it)",
            )
        dataset_cohorts(folder)  # refuses a folder that is not a dataset, before anything runs
        return folder.resolve()
    if source == "credit":
        out = data_root / f"credit-{customers}-seed{seed}"
        if not (out / "manifest.json").exists():
            log.info("generating a credit book of %s customers (seed %s) into %s", f"{customers:,}", seed, out)
            generate_credit(out, customers=customers, seed=seed)
        return out.resolve()
    if source == "amlsim":
        out = data_root / "amlsim"
        if not (out / "manifest.json").exists():
            load_amlsim(amlsim_dir or default_dir(), out)
        return out.resolve()
    out = data_root / f"synthetic-{customers}-seed{seed}"
    if not (out / "manifest.json").exists():
        log.info("generating %s customers (seed %s) into %s", f"{customers:,}", seed, out)
        generate(out, customers=customers, seed=seed)
    return out.resolve()


def run_steps(
    config: dict[str, Any],
    run_id: str,
    dataset: Path,
    as_of: date,
    params: RunParameters,
    mapping: Mapping | None = None,
    finished: Finished | None = None,
    tick: Tick | None = None,
) -> str:
    """The training then the scoring steps of one run, in process, as the two pipelines chain them; a run given
    only a new policy re-scores with the champion when it was trained on the same data and configuration."""
    done = finished or (lambda r: log.info("%s %.1fs %s", r.step, r.seconds, r.figure))
    day, folder = as_of.isoformat(), str(dataset)

    def step(result: steps.StepResult) -> Any:
        done(result.record)
        return result.value

    step(steps.ingest(config, "labelled", day, run_id, folder, mapping))
    step(steps.features(config, "labelled", day, run_id, params.allow_protected))
    reused = steps.reuse(config, run_id, params.training()) if params.policy and not params.retrain else None
    if reused is not None:  # only the policy changed: the champion re-scores under it
        step(reused)
    else:
        _train_and_gate(config, run_id, day, params, step, tick)
    scored = (dataset / "unlabelled").exists() and steps.champion(config) is not None  # none: one awaits approval
    if scored:
        step(steps.ingest(config, "unlabelled", day, run_id, folder, mapping))
        policy = params.policy.model_dump() if params.policy else None
        versions = [
            step(steps.score_shard(config, day, run_id, k, params.shards, "unlabelled", policy))
            for k in range(params.shards)
        ]
        step(steps.score(config, day, run_id, "unlabelled", policy, params.shards, versions))
    return str(step(steps.report(config, run_id, "job" if scored else "training")))


def _train_and_gate(
    config: dict[str, Any], run_id: str, day: str, params: RunParameters, step: Any, tick: Tick | None
) -> None:
    """The training pipeline's model steps: train, evaluate, validate, gate, promote (or queue for approval)."""
    version = step(
        steps.train(
            config,
            day,
            run_id,
            params.trials,
            params.tuning_timeout_s,
            params.seed,
            tick,
            params.outcomes,
            params.family,
            params.registered_by,
        )
    )
    step(
        steps.evaluate(
            config, version, run_id, params.missed_cost, params.offboard_cost, params.fairness, params.max_list_share
        )
    )
    step(steps.validate(config, version, run_id, params.validation))
    if step(steps.gate(config, version, run_id, params.margin, params.fairness, params.max_list_share)):
        step(steps.promote(config, version, run_id, "passed the gate"))


def run_job(
    settings: Settings,
    source: str = "synthetic",
    customers: int = DEFAULT_CUSTOMERS,
    seed: int = DEFAULTS.seed,
    data_root: Path = Path("data"),
    amlsim_dir: Path | None = None,
    mapping: Mapping | None = None,
    as_of: date | None = None,
    params: RunParameters | None = None,
    say: Say | None = None,
    finished: Finished | None = None,
    tick: Tick | None = None,
) -> tuple[RunRecord, str]:
    """The whole run in this process, in a new folder under settings.home (its DuckDB file locally); raises on
    unusable data after writing the validation report. Returns the record and the closing summary."""
    say = say or log.info
    params = params or RunParameters(seed=seed)
    run_id = new_run_id()
    run_dir = settings.home / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    say(f"data: preparing {source}")
    config = StepConfig.from_settings(settings, settings.duckdb_path or run_dir / "warehouse.duckdb").model_dump()
    store = open_store(config["artifact_root"], settings.gcs_endpoint)
    with failures_recorded(store, run_id, "job"):
        folder = prepare_data(source, data_root, customers, seed, amlsim_dir)
        as_of = as_of or date.fromisoformat(dataset_as_of(folder, mapping))
        run_steps(config, run_id, folder, as_of, params, mapping, finished, tick)
    record = read_record(store, run_id)
    return record, run_summary(store, record)


@contextmanager
def failures_recorded(store: ArtifactStore, run_id: str, flow: str) -> Iterator[None]:
    """Whatever stops a run is written beside its steps (`runs list` shows it failed), then raised on."""
    try:
        yield
    except BaseException as e:
        if not isinstance(e, GeneratorExit):
            record_failure(store, run_id, flow, e)
        raise


def rescore_run(
    settings: Settings,
    cohort: Cohort = "unlabelled",
    source: str = "",
    duckdb: Path | None = None,
    policy: OffboardConfig | None = None,
    version: str = "",
    as_of: date | None = None,
    publish: bool = False,
    finished: Finished | None = None,
) -> RunRecord:
    """`riskops score`: score a run's ingested cohort again (another policy, another model) as a new, complete
    run: its record with the policy and its digest, report, list and the console's book, linked to the run it
    re-scores. Locally the new run works on a copy of the source's DuckDB file, so no table of another run is
    rewritten; published, the service then serves it."""
    done = finished or (lambda r: log.info("%s %.1fs %s", r.step, r.seconds, r.figure))
    store = open_store(settings.artifacts, settings.gcs_endpoint)
    source, warehouse = rescoring_source(settings, store, source, duckdb)
    run_id = new_run_id()
    run_dir = settings.home / run_id
    duck = None
    if warehouse is not None:  # DuckDB: the new run's own copy
        run_dir.mkdir(parents=True, exist_ok=True)
        duck = run_dir / "warehouse.duckdb"
        for suffix in ("", ".wal"):
            if Path(f"{warehouse}{suffix}").exists():
                shutil.copyfile(f"{warehouse}{suffix}", f"{duck}{suffix}")
    config = StepConfig.from_settings(settings, duck).model_dump()
    rules = policy.model_dump() if policy else None
    with failures_recorded(store, run_id, "rescore"), _dropped_on_failure(duck):
        day = steps.rescore(config, run_id, cohort, as_of, source, rules)
        done(day.record)
        shard = steps.score_shard(config, day.value, run_id, 0, 1, cohort, rules, version)
        done(shard.record)
        done(steps.score(config, day.value, run_id, cohort, rules, 1, [shard.value], publish).record)
        done(steps.report(config, run_id, "rescore", cohort).record)
    return read_record(store, run_id)


@contextmanager
def _dropped_on_failure(duck: Path | None) -> Iterator[None]:
    """A failed re-scoring does not keep its copy of the warehouse (its steps and error stay)."""
    try:
        yield
    except BaseException:
        for suffix in ("", ".wal") if duck else ():
            Path(f"{duck}{suffix}").unlink(missing_ok=True)
        raise


def rescoring_source(
    settings: Settings, store: ArtifactStore, source: str, duckdb: Path | None
) -> tuple[str, Path | None]:
    """The run a re-scoring starts from and, on DuckDB, the file holding its cohort: `source` (a run id), or the
    run whose folder holds `duckdb`, or the latest run that scored; a DuckDB file outside any run has none."""
    listed = [r for r in list_runs(store) if r.get("status") == "complete"]
    runs = [r["run_id"] for r in listed]
    if not source and duckdb is None:  # the latest run that scored (and, on DuckDB, kept its warehouse)
        local = settings.warehouse != "duckdb"
        scored = [r["run_id"] for r in listed if r.get("scoring")]
        scored = [r for r in scored if local or (settings.home / r / "warehouse.duckdb").exists()]
        source = scored[-1] if scored else ""
    if source and source not in runs:
        raise RiskOpsError(
            f"no complete run {source!r} to re-score",
            f"runs at {store.uri('')}",
            "name one from `riskops runs list`" + (f" (the latest: {runs[-1]})" if runs else ": run one first"),
        )
    if settings.warehouse != "duckdb":
        return source, None
    if duckdb is None:
        duckdb = settings.duckdb_path or (settings.home / source / "warehouse.duckdb" if source else None)
    if duckdb is None or not Path(duckdb).is_file():
        have = [
            str(settings.home / r / "warehouse.duckdb")
            for r in runs
            if (settings.home / r / "warehouse.duckdb").exists()
        ]
        raise RiskOpsError(
            f"no DuckDB warehouse at {duckdb}" if duckdb else "no run with a warehouse to re-score",
            f"book folder {settings.home}",
            f"pass --duckdb with one that holds the ingested cohort ({', '.join(have[-3:])})"
            if have
            else "run `riskops run` first (it ingests the cohorts), or pass --duckdb with your warehouse",
        )
    folder = Path(duckdb).resolve().parent
    if not source and folder.parent == settings.home.resolve() and folder.name in runs:
        source = folder.name
    return source, Path(duckdb)
