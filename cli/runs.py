"""Run commands: the main job, re-scoring a run, the policy file, recorded runs, monitoring."""

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
    DuckOpt,
    MappingOpt,
    MarginOpt,
    OutcomesOpt,
    PolicyOpt,
    SeedOpt,
    ShardsOpt,
    TrialsOpt,
    TuningOpt,
    app,
    book_settings,
    console,
    date_option,
    load_policy_file,
    out,
    run_mapping,
    run_parameters,
    run_settings,
    said_book,
)
from riskops.core.config import Settings
from riskops.core.errors import RiskOpsError
from riskops.data.contract import Cohort, table_name
from riskops.data.synth import DEFAULT_CUSTOMERS
from riskops.runs.parameters import DEFAULTS


@app.command("run")
def run_cmd(
    data: DataOpt = "synthetic",
    customers: CustomersOpt = DEFAULT_CUSTOMERS,
    seed: SeedOpt = DEFAULTS.seed,
    data_root: DataRootOpt = Path("data"),
    amlsim_dir: Annotated[Path | None, typer.Option(help="AMLSim folder (default ../shared/data/amlsim).")] = None,
    mapping: MappingOpt = None,
    as_of: Annotated[date | None, date_option("Cut-off date (default: the dataset's own).")] = None,
    trials: TrialsOpt = DEFAULTS.trials,
    tuning_timeout: TuningOpt = DEFAULTS.tuning_timeout_s,
    missed_cost: CostMissed = DEFAULTS.missed_cost,
    offboard_cost: CostOffboard = DEFAULTS.offboard_cost,
    margin: MarginOpt = DEFAULTS.margin,
    outcomes: OutcomesOpt = DEFAULTS.outcomes,
    policy: PolicyOpt = None,
    shards: ShardsOpt = DEFAULTS.shards,
    by: ByOpt = "",
    retrain: Annotated[
        bool, typer.Option("--retrain", help="With --policy: train even if the champion learned from this same data.")
    ] = False,
) -> None:
    """The main job in this process: the training and scoring pipelines' steps in order (ingest, features,
    train, evaluate, gate, promote, score, report), on embedded defaults.

    Examples: riskops run ; riskops run --data ~/book --mapping book.yaml ; riskops run --data credit --policy p.yaml"""
    from cli.terminal import StepConsole
    from riskops.runs.job import run_job

    started = datetime.now()
    params = run_parameters(
        trials, tuning_timeout, seed, missed_cost, offboard_cost, margin, policy, shards, outcomes, by
    ).model_copy(update={"retrain": retrain})
    with StepConsole(console) as steps:
        settings = run_settings(data)
        _, summary = run_job(
            settings,
            source=data,
            customers=customers,
            seed=seed,
            data_root=data_root,
            amlsim_dir=amlsim_dir,
            mapping=run_mapping(data, mapping),
            as_of=as_of,
            params=params,
            say=steps.say,
            finished=steps.finished,
            tick=steps.tick,
        )
    out.print(summary)
    said_book(settings)
    out.print(f"done in {(datetime.now() - started).total_seconds():.1f}s")


runs_app = Cli(help="Recorded runs: list them and compare two.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")


@app.command("score")
def score_cmd(
    as_of: Annotated[
        date | None, date_option("Cut-off date (default: the one the cohort was ingested with; another is refused).")
    ] = None,
    cohort: Annotated[Cohort, typer.Option(help="Cohort to score (usually unlabelled).")] = "unlabelled",
    run: Annotated[str, typer.Option("--run", help="The run to re-score (default: the latest that scored).")] = "",
    duckdb: Annotated[
        Path | None,
        typer.Option("--duckdb", help="DuckDB file holding the ingested cohort (default: the run's own)."),
    ] = None,
    version: Annotated[str, typer.Option(help="Model version (default: the champion).")] = "",
    out_csv: Annotated[Path | None, typer.Option("--out", help="Also write the off-boarding list as CSV here.")] = None,
    policy: PolicyOpt = None,
    publish: Annotated[
        bool, typer.Option("--publish", help="The service (and the console) then serve this run's scores and list.")
    ] = False,
    bom: Annotated[
        bool, typer.Option("--bom", help="--out starts with a UTF-8 byte-order mark (spreadsheets then read accents).")
    ] = False,
) -> None:
    """Score a run's ingested cohort again, as a new run: segments, rules, the off-boarding list with reasons,
    its report and record (with the policy and its digest, linked to the run it re-scores). With --policy, under
    that policy instead of the model's default, without retraining; with --publish, the service then decides
    online under the same policy. The run re-scored is never changed.

    Example: riskops score --policy strict.yaml --publish --out offboarding.csv"""
    from cli.terminal import StepConsole
    from riskops.io.artifacts import open_store
    from riskops.runs.job import rescore_run

    settings = book_settings()
    rules = load_policy_file(policy)
    with StepConsole(console) as steps:
        record = rescore_run(settings, cohort, run, duckdb, rules, version, as_of, publish, steps.finished)
    store = open_store(settings.artifacts, settings.gcs_endpoint)
    if out_csv:
        text = store.read_text(f"{record.run_id}/offboarding.csv")
        Path(out_csv).write_text(("\ufeff" if bom else "") + text, encoding="utf-8")
    sc, p = record.scoring or {}, record.policy or {}
    said = "published as run" if record.published else "run (not published: --publish serves it)"
    out.print(f"{said} {record.run_id}: {store.uri(record.run_id)}", markup=False)
    if record.rescores:
        out.print(f"re-scores run {record.rescores}", markup=False)
    sizes = ", ".join(f"{k} {v:,}" for k, v in sc.get("segments", {}).items())
    out.print(f"scored {sum(sc.get('segments', {}).values()):,} customers with {record.model_version}: {sizes}")
    limit = next((s.detail.get("limit_said", "") for s in record.steps if s.step == "score"), "")
    tables = f"{table_name(cohort, 'scores')}, {table_name(cohort, 'offboarding')}"
    out.print(f"off-board {sc.get('offboard', 0):,}{f' ({limit})' if limit else ''}: tables {tables}", markup=False)
    cut, rules_n = sc.get("cutoffs", {}), len(p.get("rules") or [])
    high, medium = cut.get("high", 0), cut.get("medium", 0)
    out.print(f"policy: High from {high:.3f}, Medium from {medium:.3f}, {rules_n} rules ({policy or 'the default'})")
    out.print(f"report: {record.report}", markup=False)


policy_app = Cli(help="The off-boarding policy file: check one, print the defaults.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")


@policy_app.command("check")
def policy_check_cmd(
    file: Annotated[Path, typer.Argument(help="Policy file (YAML or JSON).")],
    model: Annotated[
        str | None,
        typer.Option(help="Check the rules against this model version (default: the champion, when there is one)."),
    ] = None,
) -> None:
    """Validate a policy file and say what it decides; exits 2 naming each wrong setting, and each rule on a
    feature the model (the champion, or --model) does not have."""
    from riskops.io.artifacts import open_store
    from riskops.model.registry import Registry
    from riskops.scoring.offboard import holdout_scores
    from riskops.scoring.policy import check_against_model, describe_policy, list_share_note, load_policy

    policy = load_policy(file)
    settings = book_settings()
    registry = Registry(open_store(settings.artifacts, settings.gcs_endpoint))
    version = model or registry.champion()
    if version is None:
        out.print(f"{file}: valid (settings only: no champion to check its rules against; pass --model VERSION)")
    else:
        card = registry.card(version)
        errors, notes = check_against_model(policy, card)
        share = list_share_note(policy, card, holdout_scores(registry, version)) if not errors else None
        notes += [share] if share else []
        for note in notes:
            out.print(f"note: {note}")
        if errors:
            raise RiskOpsError(
                "; ".join(errors),
                str(file),
                f"name features the model has (`riskops models show {version}` lists them), or retrain with them",
            )
        out.print(f"{file}: valid for model {version}")
    out.print(describe_policy(policy))


@policy_app.command("default")
def policy_default_cmd() -> None:
    """Print the default policy as YAML, every setting named with its meaning above it: a starting point for your
    own file."""
    from riskops.scoring.policy import OffboardConfig, commented_yaml

    out.print(commented_yaml(OffboardConfig()), end="", markup=False, highlight=False)


@runs_app.command("list")
def runs_list_cmd(
    every_book: Annotated[
        bool, typer.Option("--all", help="Every book's runs, each line starting with its book.")
    ] = False,
) -> None:
    """Every run of the book, oldest first: when, data, model, off-boarded, whether the service serves it, the
    run it re-scores; a run that stopped is shown failed with its error."""
    from riskops.io.artifacts import open_store
    from riskops.runs.report import list_books, list_runs

    settings = book_settings()
    if not every_book:
        runs = list_runs(open_store(settings.artifacts, settings.gcs_endpoint))
        if not runs:
            out.print(f"no runs in {settings.artifacts} (book {settings.book or '-'}): `riskops run` makes one")
        for r in runs:
            out.print(_run_line(r), markup=False)
        return
    root = Settings(book="")  # the home itself, whatever book is current
    for book in ["", *list_books(open_store(root.artifacts, root.gcs_endpoint))]:
        where = Settings(book=book).artifacts if book else root.artifacts
        for r in list_runs(open_store(where, root.gcs_endpoint)):
            out.print(f"{book or '-':<12} {_run_line(r)}", markup=False)


def _run_line(r: dict[str, Any]) -> str:
    if r["status"] != "complete":
        return f"{r['run_id']}  {r.get('flow', '-'):<8} {r['status'].upper()}: {r['error']}"
    scoring = r.get("scoring") or {}
    metrics = r.get("model_metrics") or {}
    pr = f"PR-AUC {metrics['pr_auc']:.3f}" if "pr_auc" in metrics else "no model"
    served = "" if not scoring else ("  published" if r.get("published", True) else "  not published")
    again = f"  re-scores {r['rescores']}" if r.get("rescores") else ""
    return (
        f"{r['run_id']}  {r.get('flow', '-'):<8} as_of {r.get('as_of', '-')}  model {r.get('model_version')} "
        f"({pr})  off-board {scoring.get('offboard', '-')}{served}{again}"
    )


@runs_app.command("compare")
def runs_compare_cmd(
    first: Annotated[str, typer.Argument(help="Run id.")],
    second: Annotated[str, typer.Argument(help="Run id to compare with.")],
) -> None:
    """What differs between two runs (parameters, data snapshots, model, metrics, segments) as a table with the
    runs as columns, then the customers who entered and who left the off-boarding list.

    Example: riskops runs compare 20261201-020000-001 20261207-020000-001"""
    import json

    from rich.table import Table

    from riskops.io.artifacts import open_store
    from riskops.runs.report import cell, compare_runs, list_changes

    settings = book_settings()
    store = open_store(settings.artifacts, settings.gcs_endpoint)
    for run in (first, second):
        if not store.exists(f"{run}/run.json"):
            raise RiskOpsError(
                f"run {run} has no record (it failed, or is not in this book)",
                store.uri(run),
                "name two complete runs from `riskops runs list` (--book chooses the book)",
            )
    a, b = (json.loads(store.read_text(f"{run}/run.json")) for run in (first, second))
    rows = compare_runs(a, b)
    if not rows:
        out.print("the two runs record the same parameters, data, model and results")
    else:
        table = Table("what differs", first, second, box=None, header_style="bold")
        for key, x, y in rows:
            table.add_row(key, cell(x), cell(y))
        out.print(table)
    entered, left = list_changes(store, first, second)
    for title, frame in ((f"entered the list in {second}", entered), (f"left the list after {first}", left)):
        out.print(f"\n{title}: {len(frame):,}" + (" (the first 10)" if len(frame) > 10 else ""), markup=False)
        for r in frame.head(10).itertuples():
            out.print(f"  {r.customer_id}  {r.score:.3f}  {r.reasons}", markup=False, highlight=False)


@app.command("monitor")
def monitor_cmd(duckdb: DuckOpt = None) -> None:
    """How each published scoring run's list performed against the outcomes known now (tables `outcomes` and
    `stream_outcomes`), matured or not, beside what its scores expected; the latest run's drift."""
    from riskops.io.artifacts import open_store
    from riskops.io.warehouse import open_warehouse
    from riskops.runs.monitor import monitor, read_predictions

    settings = book_settings()
    with open_warehouse(settings, duckdb) as wh:
        log = read_predictions(wh, settings.home, settings.prediction_log)
        report = monitor(wh, open_store(settings.artifacts, settings.gcs_endpoint), log)
    out.print(f"{report['outcomes']:,} outcomes known")

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.1%}"

    for r in report["runs"]:
        state = "matured" if r["matured"] else f"partial until {r['mature_on']}"
        realized = f"precision {pct(r['precision'])} (expected {pct(r['expected_precision'])})"
        realized += f", recall {pct(r['recall'])} (expected {pct(r['expected_recall'])})"
        out.print(
            f"  run {r['run_id']} ({r['model_version']}, as of {r['as_of']}, {state}): {r['listed']:,} listed, "
            f"{r['suspended']:,} suspended since; {realized}"
        )
    drift = report["latest_drift"]
    if drift:
        out.print(
            f"  latest run's drift: {', '.join(drift.get('drifted', [])) or 'none'} (score PSI "
            f"{drift.get('score_psi', 0):.3f})"
        )
    for c in report["shadow"]:
        out.print(
            f"  shadow: {c['challenger']} beside {c['champion']} on {c['pairs']:,} scored customers: segments "
            f"agree {c['segment_agreement']:.1%}, rank correlation {c['rank_correlation']}, High "
            f"{c['high_share']:.1%} vs {c['high_share_challenger']:.1%}"
        )
    for line in report["attention"]:
        out.print(f"[bold red]attention[/]: {line}")
