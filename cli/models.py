"""Model commands: train, evaluate, and the registry (list, show, validate, approve, promote, rollback)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.app import (
    ByOpt,
    Cli,
    CostMissed,
    CostOffboard,
    DuckOpt,
    OutcomesOpt,
    app,
    book_settings,
    console,
    date_option,
    load_policy_file,
    out,
)
from riskops.core.errors import RiskOpsError
from riskops.model.config import TrainConfig
from riskops.runs.parameters import DEFAULTS

if TYPE_CHECKING:
    from riskops.model.registry import Registry


models_app = Cli(help="The model registry: versions, champion, promotion, rollback.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@app.command("train")
def train_cmd(
    as_of: Annotated[date, date_option("Cut-off date the labelled cohort was ingested with.")],
    duckdb: DuckOpt = None,
    trials: Annotated[int, typer.Option(help="Optuna trials (0 keeps default parameters).", min=0)] = DEFAULTS.trials,
    tuning_timeout: Annotated[
        float, typer.Option(help="Stop tuning after this many seconds.")
    ] = DEFAULTS.tuning_timeout_s,
    folds: Annotated[int, typer.Option(help="Stratified CV folds.", min=2, max=10)] = TrainConfig().folds,
    seed: Annotated[int, typer.Option(help="Seed for splits, folds, tuning and models.")] = DEFAULTS.seed,
    missed_cost: CostMissed = DEFAULTS.missed_cost,
    offboard_cost: CostOffboard = DEFAULTS.offboard_cost,
    margin: Annotated[float, typer.Option(help="PR-AUC a challenger must gain over the champion.")] = DEFAULTS.margin,
    outcomes: OutcomesOpt = DEFAULTS.outcomes,
    promote: Annotated[bool, typer.Option(help="Promote the model when it passes the gate.")] = True,
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy", help="Policy file whose `family` chooses the model family shipped (default: catboost)."
        ),
    ] = None,
    by: ByOpt = "",
) -> None:
    """Train on the labelled cohort (CatBoost, or the family the policy chooses), evaluate it, register it, and
    promote it if it beats the champion."""
    from riskops.io.artifacts import open_store
    from riskops.io.warehouse import open_warehouse
    from riskops.model.config import CostMatrix, TrainConfig
    from riskops.runs.candidate import train_and_register
    from riskops.runs.report import describe_model
    from riskops.scoring.policy import training_family

    settings = book_settings()
    with open_warehouse(settings, duckdb) as wh:
        card, decision = train_and_register(
            wh,
            open_store(settings.artifacts, settings.gcs_endpoint),
            as_of,
            TrainConfig(
                seed=seed,
                trials=trials,
                tuning_timeout_s=tuning_timeout,
                folds=folds,
                outcomes=outcomes,
                family=training_family(load_policy_file(policy)),
            ),
            CostMatrix(missed_cost=missed_cost, offboard_cost=offboard_cost),
            margin=margin,
            promote=promote,
            approval_required=settings.approval_required,
            registered_by=by,
        )
    out.print(describe_model(card, decision))


@app.command("evaluate")
def evaluate_cmd(
    version: Annotated[str, typer.Option(help="Model version (default: the champion).")] = "",
    missed_cost: CostMissed = DEFAULTS.missed_cost,
    offboard_cost: CostOffboard = DEFAULTS.offboard_cost,
) -> None:
    """Evaluate a stored model again on its holdout, e.g. with another cost matrix; writes a new report."""
    from riskops.io.artifacts import open_store
    from riskops.model.config import CostMatrix
    from riskops.model.registry import Registry
    from riskops.runs.candidate import reevaluate

    settings = book_settings()
    store = open_store(settings.artifacts, settings.gcs_endpoint)
    target = version or Registry(store).champion()
    if not target:
        raise RiskOpsError("no champion and no --version given", "registry", "train a model first")
    _, uri = reevaluate(store, target, CostMatrix(missed_cost=missed_cost, offboard_cost=offboard_cost))
    out.print(f"report: {uri}")


def _version_or_champion(reg: Registry, version: str) -> str:
    target = version or reg.champion()
    if not target:
        raise RiskOpsError(
            "no VERSION given and there is no champion",
            "the model registry",
            "name a version from `riskops models list`",
        )
    return target


def _registry() -> Registry:
    from riskops.io.artifacts import open_store
    from riskops.model.registry import Registry

    settings = book_settings()
    return Registry(open_store(settings.artifacts, settings.gcs_endpoint), settings.approval_required)


@models_app.command("list")
def models_list_cmd() -> None:
    """Every registered version with its holdout metrics, who registered it, its approval and its validation
    pack's verdict; * marks the champion."""
    from riskops.model.pack import read_pack

    reg = _registry()
    champ = reg.champion()
    for v in reg.versions():
        c = reg.card(v)
        mark = "*" if v == champ else " "
        pack = read_pack(reg.store, v)
        out.print(
            f"{mark} {v}  {c.family}  as_of {c.as_of}  PR-AUC {c.metrics['pr_auc']:.3f}  "
            f"ROC-AUC {c.metrics['roc_auc']:.3f}  threshold {c.threshold:.3f}  rows {c.rows['customers']:,}  "
            f"by {c.registered_by or '?'}  {reg.approvals.state(v)}  pack {pack.status if pack else 'none'}"
        )


@models_app.command("show")
def models_show_cmd(
    version: Annotated[str, typer.Argument(help="Model version (default: the champion).")] = "",
) -> None:
    """The full model card of a version and its approval log, as JSON."""
    reg = _registry()
    target = _version_or_champion(reg, version)
    card = reg.card(target).model_dump(mode="json")
    from riskops.model.pack import read_pack

    approvals = [e.model_dump() for e in reg.approvals.entries(target)]
    pack = read_pack(reg.store, target)
    validation = pack.summary() if pack else {"status": "none"}
    out.print_json(
        data=card | {"approval": {"state": reg.approvals.state(target), "log": approvals}, "validation": validation}
    )


@models_app.command("validate")
def models_validate_cmd(
    version: Annotated[str, typer.Argument(help="Model version (default: the champion).")] = "",
    duckdb: Annotated[
        Path | None,
        typer.Option(
            "--duckdb", help="DuckDB file with the labelled cohort (default: the one of the run that trained it)."
        ),
    ] = None,
    policy: Annotated[
        Path | None, typer.Option("--policy", help="Policy file whose `validation:` sets the limits.")
    ] = None,
) -> None:
    """Write a version's validation pack beside it (models/VERSION/validation/: pack.json, pack.html, pack.pdf):
    out of time, a scorecard benchmark, stability, weak spots, sensitivity, fairness and limitations, each with
    its status against the policy's limits.

    Example: riskops models validate m20261207-101500-000000"""
    from riskops.io.warehouse import open_warehouse
    from riskops.runs.record import run_that_trained
    from riskops.runs.validate import validate_version

    settings = book_settings()
    reg = _registry()
    target = _version_or_champion(reg, version)
    reg.card(target)  # an unknown version is named before any work
    if duckdb is None and settings.warehouse == "duckdb" and settings.duckdb_path is None:
        run = run_that_trained(reg.store, target)
        found = settings.home / run / "warehouse.duckdb" if run else None
        duckdb = found if found and found.exists() else None
    cfg = load_policy_file(policy)
    with open_warehouse(settings, duckdb) as wh:
        pack = validate_version(wh, reg.store, target, cfg.validation if cfg else None, say=console.print)
    for s in pack.sections:
        out.print(f"  {s.title:<20} {s.status:<5} {s.reading}")
    out.print(f"validation pack: {pack.status}; {reg.store.uri(f'models/{target}/validation/pack.html')}")


DeciderOpt = Annotated[str, typer.Option("--by", help="Who decides: a validator, not the registering person.")]


@models_app.command("approve")
def models_approve_cmd(
    version: Annotated[str, typer.Argument(help="Model version to approve.")],
    by: DeciderOpt,
    comment: Annotated[str, typer.Option(help="What the approval rests on, for the log.")] = "",
) -> None:
    """Approve a version (four eyes: not by the person who registered it); one awaiting approval becomes the
    champion. The decision is final and recorded with the digest of the card and report it was made on.

    Example: riskops models approve m20261207-101500-000000 --by vera --comment "pack reviewed"
    """
    from riskops.model.registry import approve

    if approve(_registry(), version, by, comment):
        out.print(f"approved by {by}; champion: {version}")
    else:
        out.print(f"approved by {by}; {version} is not waiting to be promoted (riskops models promote {version})")


@models_app.command("reject")
def models_reject_cmd(
    version: Annotated[str, typer.Argument(help="Model version to reject.")],
    by: DeciderOpt,
    comment: Annotated[str, typer.Option(help="Why it is rejected (required).")] = "",
) -> None:
    """Reject a version with the reason; it can never be approved or promoted (retrain to submit anew)."""
    from riskops.model.registry import reject

    reject(_registry(), version, by, comment)
    out.print(f"rejected by {by}: {version}")


@models_app.command("promote")
def models_promote_cmd(
    version: Annotated[str, typer.Argument(help="Model version to make the champion.")],
    reason: Annotated[str, typer.Option(help="Why, for the history.")] = "promoted by hand",
) -> None:
    """Make a version the champion (the pointer changes atomically; history is kept)."""
    reg = _registry()
    reg.set_champion(version, reason)
    out.print(f"champion: {version}")


@models_app.command("challenger")
def models_challenger_cmd(
    version: Annotated[str | None, typer.Argument(help="Model version to score in shadow; omit with --clear.")] = None,
    clear: Annotated[bool, typer.Option(help="Stop shadow scoring.")] = False,
    reason: Annotated[str, typer.Option(help="Why, kept in the pointer.")] = "named by hand",
) -> None:
    """Name the challenger the service scores beside the champion on every request (logged, never served)."""
    if (version is None) != clear:
        raise typer.BadParameter("give a VERSION, or --clear")
    _registry().set_challenger(version, reason)
    out.print(f"challenger: {version or 'none'}")


@models_app.command("rollback")
def models_rollback_cmd() -> None:
    """Make the previous champion the champion again."""
    reg = _registry()
    v = reg.rollback()
    out.print(f"champion: {v}")


@models_app.command("gc")
def models_gc_cmd(
    older_than_hours: Annotated[
        float, typer.Option(help="Only what is older: younger files may be a run in progress.", min=0)
    ] = 24.0,
    delete: Annotated[bool, typer.Option("--delete", help="Delete them (default: only list them).")] = False,
) -> None:
    """What killed runs left in the registry: candidate folders without a card, temporary files."""
    from riskops.model.registry import garbage as leftovers

    reg = _registry()
    garbage = leftovers(reg, older_than_hours * 3600)
    for key in garbage:
        out.print(("deleted " if delete else "") + reg.store.uri(key))
        if delete:
            reg.store.delete(key)
    out.print(f"{len(garbage)} leftover file(s)" + ("" if delete or not garbage else "; --delete removes them"))
