"""Pipeline commands: compile the KFP specs, estimate their cost, run them locally, submit and schedule."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.app import (
    ByOpt,
    Cli,
    CostMissed,
    CostOffboard,
    CustomersOpt,
    DataOpt,
    DataRootOpt,
    MappingOpt,
    MarginOpt,
    OutcomesOpt,
    PolicyOpt,
    SeedOpt,
    ShardsOpt,
    TrialsOpt,
    TuningOpt,
    app,
    console,
    date_option,
    fail,
    named_book,
    out,
    run_mapping,
    run_parameters,
    run_settings,
    said_book,
)
from riskops.core.config import Settings
from riskops.core.errors import RiskOpsError
from riskops.data.synth import DEFAULT_CUSTOMERS
from riskops.runs.parameters import DEFAULTS

pipeline_app = Cli(help="KFP pipelines: compile the specs, run them locally.", no_args_is_help=True)
app.add_typer(pipeline_app, name="pipeline")


@pipeline_app.command("compile")
def pipeline_compile_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for training.yaml and scoring.yaml.")] = Path(
        "build/pipelines"
    ),
    image: Annotated[str, typer.Option(help="Container image the components run in.")] = "",
    warehouse: Annotated[str, typer.Option(help="duckdb or bigquery (default: RISKOPS_WAREHOUSE).")] = "",
    bq_project: Annotated[str, typer.Option(help="BigQuery project (default: RISKOPS_BQ_PROJECT).")] = "",
    bq_dataset: Annotated[str, typer.Option(help="BigQuery dataset (default: RISKOPS_BQ_DATASET).")] = "",
    bq_location: Annotated[str, typer.Option(help="BigQuery location (default: RISKOPS_BQ_LOCATION).")] = "",
    artifact_root: Annotated[str, typer.Option(help="gs://bucket/prefix (default: RISKOPS_ARTIFACT_ROOT).")] = "",
    customers: Annotated[
        int,
        typer.Option(
            help="Customers in the book: sizes each task's CPU and memory and the scoring shards (docs/operations.md).",
            min=1,
        ),
    ] = 20_000,
) -> None:
    """Compile the training, scoring and monitoring pipelines to KFP v2 YAML specs that carry where every step
    finds the warehouse and the artifact store (the `config` parameter's default), and each task's CPU and memory
    for a book of --customers.

    Example: riskops pipeline compile --out build/pipelines --customers 2000000 --warehouse bigquery ..."""
    import os

    from riskops.core.config import StepConfig

    if image:
        os.environ["RISKOPS_IMAGE"] = image  # read when the components are defined, i.e. on import below
    from pipelines.runner import compile_all

    given: dict[str, Any] = {
        "warehouse": warehouse,
        "bq_project": bq_project,
        "bq_dataset": bq_dataset,
        "bq_location": bq_location,
        "artifact_root": artifact_root,
    }
    try:
        given["book"] = named_book()  # a book only when named: the local run's book never moves a cloud root
        settings = Settings(**{k: v for k, v in given.items() if v})
        duck = settings.duckdb_path or settings.home / "warehouse.duckdb"  # the local default, made absolute
        config = StepConfig.parse(StepConfig.from_settings(settings, duck).model_dump())
    except (RiskOpsError, ValueError) as e:
        fail(e if isinstance(e, RiskOpsError) else RiskOpsError(str(e), "pipeline compile", "fix the option"))
    for name, path in compile_all(out_dir, config.model_dump(), customers).items():
        out.print(f"{name}: {path}")
    where = config.bq_project + "." + config.bq_dataset if config.warehouse == "bigquery" else config.duckdb_path
    out.print(f"steps use {config.warehouse} ({where}) and artifacts at {config.artifact_root}")


@pipeline_app.command("estimate")
def pipeline_estimate_cmd(
    customers: Annotated[int, typer.Option(help="Customers in the book.", min=1)],
    transactions_per_year: Annotated[int, typer.Option(help="Transactions a year, the whole book.", min=0)],
    labelled_share: Annotated[
        float, typer.Option(help="Share of customers with a known outcome (the rest are scored).", min=0.01, max=0.99)
    ] = 0.8,
    prices: Annotated[Path | None, typer.Option(help="Price file (default configs/gcp-prices.yaml).")] = None,
) -> None:
    """What a daily scoring run and a weekly training run of a book this size would cost a month on GCP at list
    prices: each task's minutes and resources (the sizing `pipeline compile --customers` writes), each BigQuery
    step's bytes scanned, storage; with the assumptions.

    Example: riskops pipeline estimate --customers 10000000 --transactions-per-year 1500000000"""
    from pipelines.estimate import describe, estimate, load_prices

    out.print(describe(estimate(customers, transactions_per_year, labelled_share, load_prices(prices))))


@pipeline_app.command("run")
def pipeline_run_cmd(
    data: DataOpt = "synthetic",
    customers: CustomersOpt = DEFAULT_CUSTOMERS,
    seed: SeedOpt = DEFAULTS.seed,
    data_root: DataRootOpt = Path("data"),
    trials: TrialsOpt = DEFAULTS.trials,
    tuning_timeout: TuningOpt = DEFAULTS.tuning_timeout_s,
    missed_cost: CostMissed = DEFAULTS.missed_cost,
    offboard_cost: CostOffboard = DEFAULTS.offboard_cost,
    margin: MarginOpt = DEFAULTS.margin,
    outcomes: OutcomesOpt = DEFAULTS.outcomes,
    policy: PolicyOpt = None,
    mapping: MappingOpt = None,
    as_of: Annotated[date | None, date_option("Cut-off date (default: the dataset's own).")] = None,
    shards: ShardsOpt = DEFAULTS.shards,
    by: ByOpt = "",
) -> None:
    """Compile both pipelines with these settings and run the specs locally with kfp.local, each task in its
    own process and empty folder; the executor output goes to <run>/pipeline.log. The mapping travels in the
    specs' arguments, like the policy."""
    from cli.terminal import StepConsole
    from pipelines.runner import run_local
    from riskops.data.sources import dataset_as_of
    from riskops.runs.job import prepare_data

    started = datetime.now()
    settings = run_settings(data)
    params = run_parameters(
        trials, tuning_timeout, seed, missed_cost, offboard_cost, margin, policy, shards, outcomes, by
    )
    with StepConsole(console) as steps:
        steps.say(f"data: preparing {data}")
        folder = prepare_data(data, data_root, customers, seed, None)
        m = run_mapping(data, mapping)
        day = as_of.isoformat() if as_of else dataset_as_of(folder, m)
        _, summary = run_local(settings, folder, day, params, steps.finished, steps.tick, m)
    out.print(summary)
    said_book(settings)
    out.print(f"done in {(datetime.now() - started).total_seconds():.1f}s")


SpecOpt = Annotated[Path, typer.Option("--spec", help="Compiled pipeline YAML (riskops pipeline compile).")]
ArgsOpt = Annotated[list[str] | None, typer.Option("--arg", help="Pipeline argument KEY=VALUE; repeat it.")]
HostOpt = Annotated[str, typer.Option("--host", help="KFP API URL, e.g. http://127.0.0.1:8080.")]


@pipeline_app.command("submit")
def pipeline_submit_cmd(
    host: Annotated[str, typer.Option("--host", help="KFP API URL, e.g. http://127.0.0.1:8080.")] = "",
    vertex: Annotated[bool, typer.Option("--vertex", help="Submit to Vertex AI Pipelines instead.")] = False,
    project: Annotated[str, typer.Option(help="GCP project (with --vertex).")] = "",
    region: Annotated[str, typer.Option(help="GCP region, e.g. europe-west4 (with --vertex).")] = "",
    pipeline_root: Annotated[str, typer.Option(help="gs:// folder for pipeline outputs (with --vertex).")] = "",
    label: Annotated[list[str] | None, typer.Option("--label", help="KEY=VALUE run label (Vertex); repeat it.")] = None,
    service_account: Annotated[str, typer.Option(help="Service account the Vertex run acts as.")] = "",
    spec: SpecOpt = Path("build/pipelines/training.yaml"),
    arg: ArgsOpt = None,
    experiment: Annotated[str, typer.Option(help="Experiment the run belongs to.")] = "riskops",
    run_name: Annotated[str, typer.Option(help="Run name (default: spec name + time).")] = "",
    caching: Annotated[bool, typer.Option(help="Reuse cached step results.")] = True,
) -> None:
    """Submit a compiled pipeline as one run: to a KFP API (--host) or to Vertex AI Pipelines (--vertex)."""
    from pipelines.remote import VertexTarget, parse_arguments, submit_to
    from riskops.core.identity import new_run_id

    target = (
        VertexTarget(
            project,
            region,
            pipeline_root,
            {k: str(v) for k, v in parse_arguments(label or []).items()},
            service_account,
        )
        if vertex
        else None
    )
    run_id, where = submit_to(
        spec,
        parse_arguments(arg or []),
        experiment,
        run_name or f"{spec.stem}-{new_run_id()}",
        caching,
        host=host,
        vertex=target,
    )
    out.print(f"run {run_id} submitted to {where} (experiment {experiment})")


@pipeline_app.command("schedule")
def pipeline_schedule_cmd(
    host: HostOpt,
    cron: Annotated[str, typer.Option(help="Cron with seconds: '0 0 2 * * *' nightly, '0 0 3 * * 1' weekly.")],
    spec: SpecOpt = Path("build/pipelines/scoring.yaml"),
    arg: ArgsOpt = None,
    experiment: Annotated[str, typer.Option(help="Experiment the runs belong to.")] = "riskops",
    name: Annotated[str, typer.Option(help="Recurring run name.")] = "riskops-nightly-scoring",
    caching: Annotated[bool, typer.Option(help="Reuse cached step results.")] = False,
) -> None:
    """Create a recurring run of a compiled pipeline on a KFP API (nightly scoring, weekly retraining)."""
    from pipelines.remote import parse_arguments, schedule

    rid = schedule(host, spec, parse_arguments(arg or []), experiment, name, cron, caching)
    out.print(f"recurring run {rid} ({cron}) created on {host}")
