"""The `riskops` command line: a thin shell over the library."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.logging import RichHandler
from typer.models import CommandFunctionType

from riskops.core.config import Settings
from riskops.core.errors import RiskOpsError
from riskops.data.contract import Cohort, Mapping, load_mapping, table_name
from riskops.data.synth import DEFAULT_CUSTOMERS
from riskops.model.config import TrainConfig
from riskops.runs.parameters import DEFAULTS

if TYPE_CHECKING:
    from riskops.model.registry import Registry
    from riskops.runs.parameters import RunParameters
    from riskops.scoring.policy import OffboardConfig


_display_type = typer.core.TyperOption.display_type_rich


def _flag_shows_no_type(self: typer.core.TyperOption, ctx: Any) -> str | None:
    return None if self.is_flag else _display_type(self, ctx)


typer.core.TyperOption.display_type_rich = _flag_shows_no_type  # type: ignore[method-assign]  # not "--publish <bool>"


class Cli(typer.Typer):
    """A Typer whose every command reports a RiskOpsError as one message (what, where, what to do) and exits
    with status 2, instead of a traceback; commands themselves never catch it."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[CommandFunctionType], CommandFunctionType]:
        register = super().command(*args, **kwargs)

        def decorator(fn: CommandFunctionType) -> CommandFunctionType:
            @functools.wraps(fn)
            def reporting(*a: Any, **k: Any) -> Any:
                try:
                    return fn(*a, **k)
                except RiskOpsError as e:
                    _fail(e)

            register(reporting)
            return fn

        return decorator


app = Cli(
    help="Customer-risk platform: load or generate data, validate it, train, score and explain, and run the pipelines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# Not a terminal (CI, a log file): lines as long as they are, never folded at 80 columns mid-sentence.
console = Console(stderr=True, soft_wrap=not sys.stderr.isatty())
out = Console(soft_wrap=True)

MappingOpt = Annotated[
    Path | None,
    typer.Option("--mapping", help="YAML mapping of your tables/columns/labels onto the contract."),
]
CostMissed = Annotated[float, typer.Option("--missed-cost", help="Cost of keeping a customer who gets SUSPENDED.")]
CostOffboard = Annotated[float, typer.Option("--offboard-cost", help="Cost of off-boarding a good customer.")]
DuckOpt = Annotated[
    Path | None,
    typer.Option("--duckdb", help="DuckDB file (default: RISKOPS_DUCKDB_PATH or <home>/warehouse.duckdb)."),
]


_book: dict[str, str] = {"name": ""}  # --book, given before the command


def _settings() -> Settings:
    """This command's settings: the book named by --book or RISKOPS_BOOK, else the last local run's book."""
    return Settings.load(**({"book": _book["name"]} if _book["name"] else {}))


def _run_settings(data: str) -> Settings:
    """A run's settings: the book named by --book or RISKOPS_BOOK, else the one its data names (synthetic,
    credit, amlsim, the folder's name); remembered as the book later commands work on."""
    from riskops.core.config import book_name, remember_book

    named = _book["name"] or Settings().book
    settings = Settings(book=named or book_name(data))
    remember_book(settings)
    return settings


def _said_book(settings: Settings) -> None:
    out.print(
        f"book {settings.book}: riskops models, runs, score and make serve / console now work on it "
        "(--book or RISKOPS_BOOK name another)",
        markup=False,
    )


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False,
    book: Annotated[
        str,
        typer.Option(
            "--book",
            help="The book to work on: its runs, models and champion under <home>/books/BOOK (default: "
            "RISKOPS_BOOK, else the book of the last run; a run's default is its --data's name).",
        ),
    ] = "",
) -> None:
    _book["name"] = book
    tty = sys.stderr.isatty()
    handler: logging.Handler = (
        RichHandler(console=console, show_path=False, log_time_format="%Y-%m-%d %H:%M:%S")
        if tty
        else logging.StreamHandler(sys.stderr)
    )
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s" if tty else "%(asctime)s %(levelname)s %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S%z",
        handlers=[handler],
    )


def _fail(e: RiskOpsError) -> NoReturn:
    console.print(f"[bold red]error:[/] {e}")
    raise typer.Exit(2)


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None


def _date_option(help: str) -> Any:
    """A date option: YYYY-MM-DD, anything else a usage error naming the format."""
    return typer.Option(parser=_parse_date, help=help)


@app.command("generate")
def generate_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the dataset into (replaced when done).")],
    customers: Annotated[int, typer.Option(help="Customers in all, labelled + unlabelled.", min=2)] = DEFAULT_CUSTOMERS,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = DEFAULTS.seed,
    as_of: Annotated[date | None, _date_option("Cut-off date YYYY-MM-DD (default 2026-09-30).")] = None,
    unlabelled_share: Annotated[
        float, typer.Option(help="Share of customers in the unlabelled cohort.", min=0, max=0.9)
    ] = 0.2,
    chunk_size: Annotated[int, typer.Option(help="Customers generated per chunk (bounds memory).", min=100)] = 5_000,
) -> None:
    """Generate a synthetic fintech book: customers, transactions and suspension labels."""
    from rich.progress import Progress

    from riskops.data.synth import DEFAULT_AS_OF, generate

    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("generating", total=customers)
        summary = generate(
            out_dir,
            customers=customers,
            seed=seed,
            as_of=as_of or DEFAULT_AS_OF,
            unlabelled_share=unlabelled_share,
            chunk_size=chunk_size,
            tick=lambda cohort, done, total: progress.update(task, completed=done, description=cohort),
        )
    out.print(
        f"wrote {out_dir}: customers {summary.customers}, transactions {summary.transactions}, "
        f"SUSPENDED {summary.suspended_share:.1%} of labelled; {summary.seconds}s "
        f"({summary.transactions_per_second:,.0f} transactions/s)"
    )


@app.command("amlsim")
def amlsim_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the contract-shaped dataset into.")],
    source: Annotated[Path | None, typer.Option(help="AMLSim folder with nodes.csv and transactions.csv.")] = None,
    unlabelled_share: Annotated[float, typer.Option(help="Share of accounts held out as the unlabelled cohort.")] = 0.2,
) -> None:
    """Convert the AMLSim sample into the contract's layout (fraudStep is never read)."""
    from riskops.data.amlsim import default_dir, load_amlsim

    s = load_amlsim(source or default_dir(), out_dir, unlabelled_share)
    out.print(f"wrote {out_dir}: as of {s.as_of}, customers {s.customers}, transactions {s.transactions}")


@app.command("load")
def load_cmd(
    dataset: Annotated[Path | None, typer.Option(help="Dataset folder (from generate/amlsim) to load whole.")] = None,
    cohort: Annotated[
        Cohort, typer.Option(help="Cohort for --customers/--transactions: labelled or unlabelled.")
    ] = "labelled",
    customers: Annotated[Path | None, typer.Option(help="Customers file or folder (Parquet or CSV).")] = None,
    transactions: Annotated[Path | None, typer.Option(help="Transactions file or folder (Parquet or CSV).")] = None,
    outcomes: Annotated[
        Path | None, typer.Option(help="Outcomes file (customer_id, account_state, decided_at, source) for monitoring.")
    ] = None,
    mapping: MappingOpt = None,
    duckdb: DuckOpt = None,
) -> None:
    """Load source data into the warehouse's raw tables (as named in the mapping), or outcomes into `outcomes`."""
    from riskops.data.sources import id_columns, load_dataset, load_sources
    from riskops.io.warehouse import open_warehouse

    if outcomes is not None:
        from riskops.runs.outcomes import load_outcomes

        with open_warehouse(_settings(), duckdb) as wh:
            loaded = load_outcomes(wh, outcomes, load_mapping(mapping))
        out.print(loaded.summary())
        return
    if dataset is None and (customers is None or transactions is None):
        raise typer.BadParameter("pass --dataset, --outcomes, or both --customers and --transactions")
    m = load_mapping(mapping)
    with open_warehouse(_settings(), duckdb) as wh:
        if dataset is not None:
            counts = load_dataset(wh, dataset, m)
        else:
            assert customers is not None and transactions is not None
            t = m.cohorts[cohort]
            counts = load_sources(
                wh,
                {t.customers: customers, t.transactions: transactions},
                {t.customers: id_columns(m, "customers"), t.transactions: id_columns(m, "transactions")},
            )
    out.print("loaded " + ", ".join(f"{k}: {v:,} rows" for k, v in counts.items()))


@app.command("ingest")
def ingest_cmd(
    as_of: Annotated[date, _date_option("Cut-off date YYYY-MM-DD: nothing on a later day is used.")],
    cohort: Annotated[Cohort, typer.Option(help="labelled (needs account_state) or unlabelled.")] = "labelled",
    mapping: MappingOpt = None,
    duckdb: DuckOpt = None,
    report_prefix: Annotated[str | None, typer.Option(help="Where in the artifact store to write the report.")] = None,
) -> None:
    """Validate a cohort into clean + quarantine tables and write the validation report."""
    from riskops.core.identity import new_run_id
    from riskops.data.ingest import ingest_cohort
    from riskops.io.artifacts import open_store
    from riskops.io.warehouse import open_warehouse

    settings = _settings()
    prefix = report_prefix or f"{new_run_id()}/validation/{cohort}"
    with open_warehouse(settings, duckdb) as wh:
        c: Cohort = cohort
        report = ingest_cohort(
            wh,
            c,
            as_of,
            open_store(settings.artifacts, settings.gcs_endpoint),
            prefix,
            load_mapping(mapping),
        )
    out.print(report.summary())
    out.print(f"report: {report.report_uri}")


PolicyOpt = Annotated[
    Path | None,
    typer.Option(
        "--policy", help="YAML/JSON off-boarding policy (cut-offs, Medium factor, rules); default: the model's."
    ),
]


def _load_policy(path: Path | None) -> OffboardConfig | None:
    """An off-boarding policy file, checked (None: the model's default)."""
    from riskops.scoring.policy import load_policy

    return load_policy(path) if path else None


def _run_mapping(data: str, path: Path | None) -> Mapping:
    """The mapping file given, else the one the data comes with (the credit book's coded attributes)."""
    from riskops.runs.job import default_mapping

    return load_mapping(path) if path else default_mapping(data)


def _run_parameters(
    trials: int,
    tuning_timeout: float,
    seed: int,
    missed_cost: float,
    offboard_cost: float,
    margin: float,
    policy: Path | None,
    shards: int,
    outcomes: bool,
    by: str = "",
) -> RunParameters:
    from riskops.runs.parameters import RunParameters

    return RunParameters(
        trials=trials,
        tuning_timeout_s=tuning_timeout,
        seed=seed,
        missed_cost=missed_cost,
        offboard_cost=offboard_cost,
        margin=margin,
        policy=_load_policy(policy),
        shards=shards,
        outcomes=outcomes,
        registered_by=by,
    )


DataOpt = Annotated[
    str,
    typer.Option(
        help="synthetic (an AML-shaped book, generated and cached), credit (a credit-card book, likewise), amlsim "
        "(../shared/data/amlsim), or the path of your own folder: "
        "labelled/customers.csv|parquet, labelled/transactions.csv|parquet and the same under unlabelled/."
    ),
]
CustomersOpt = Annotated[int, typer.Option(help="Synthetic customers in all.", min=2)]
SeedOpt = Annotated[int, typer.Option(help="Data, split and model seed.")]
DataRootOpt = Annotated[Path, typer.Option(help="Where prepared datasets are cached.")]
TrialsOpt = Annotated[int, typer.Option(help="Optuna trials (0 keeps default parameters).", min=0)]
TuningOpt = Annotated[float, typer.Option(help="Stop tuning after this many seconds.")]
MarginOpt = Annotated[float, typer.Option(help="PR-AUC a challenger must gain over the champion.")]
OutcomesOpt = Annotated[
    bool,
    typer.Option(
        help="Also learn from current customers' outcomes that came in after their last scoring: loaded outcomes, "
        "stream outcomes, the console's confirmed off-boardings (SUSPENDED) and keeps (ACTIVE)."
    ),
]
ByOpt = Annotated[
    str,
    typer.Option(
        "--by", help="Who the model is registered in the name of (default: your user name); never its approver."
    ),
]
ShardsOpt = Annotated[
    int, typer.Option(help="Score the unlabelled cohort in this many parallel shards (by customer id hash).", min=1)
]


@app.command("run")
def run_cmd(
    data: DataOpt = "synthetic",
    customers: CustomersOpt = DEFAULT_CUSTOMERS,
    seed: SeedOpt = DEFAULTS.seed,
    data_root: DataRootOpt = Path("data"),
    amlsim_dir: Annotated[Path | None, typer.Option(help="AMLSim folder (default ../shared/data/amlsim).")] = None,
    mapping: MappingOpt = None,
    as_of: Annotated[date | None, _date_option("Cut-off date (default: the dataset's own).")] = None,
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
    from riskops.cli.console import StepConsole
    from riskops.runs.job import run_job

    started = datetime.now()
    params = _run_parameters(
        trials, tuning_timeout, seed, missed_cost, offboard_cost, margin, policy, shards, outcomes, by
    ).model_copy(update={"retrain": retrain})
    with StepConsole(console) as steps:
        settings = _run_settings(data)
        _, summary = run_job(
            settings,
            source=data,
            customers=customers,
            seed=seed,
            data_root=data_root,
            amlsim_dir=amlsim_dir,
            mapping=_run_mapping(data, mapping),
            as_of=as_of,
            params=params,
            say=steps.say,
            finished=steps.finished,
            tick=steps.tick,
        )
    out.print(summary)
    _said_book(settings)
    out.print(f"done in {(datetime.now() - started).total_seconds():.1f}s")


features_app = Cli(help="Feature tables and the feature catalogue.", no_args_is_help=True)
models_app = Cli(help="The model registry: versions, champion, promotion, rollback.", no_args_is_help=True)
app.add_typer(features_app, name="features")
app.add_typer(models_app, name="models")


@features_app.command("build")
def features_build_cmd(
    as_of: Annotated[date, _date_option("Cut-off date YYYY-MM-DD (the one the cohort was ingested with).")],
    cohort: Annotated[Cohort, typer.Option(help="labelled or unlabelled.")] = "labelled",
    duckdb: DuckOpt = None,
) -> None:
    """Compute `<cohort>_features` in the warehouse: one row per customer."""
    from riskops.data.contract import as_of_cutoff
    from riskops.features.engineering import build_features
    from riskops.io.warehouse import open_warehouse

    with open_warehouse(_settings(), duckdb) as wh:
        fs = build_features(wh, cohort, as_of_cutoff(as_of))
        n = wh.count(table_name(cohort, "features"))
    out.print(f"{table_name(cohort, 'features')}: {n:,} customers x {len(fs.names)} features")


@features_app.command("catalogue")
def features_catalogue_cmd(
    out_file: Annotated[Path, typer.Option("--out", help="Markdown file to write.")] = Path("docs/features.md"),
) -> None:
    """Write the feature catalogue (name, group, window, definition) generated from the code."""
    from riskops.data.synth import synthetic_attribute_kinds
    from riskops.features.engineering import FeatureConfig, FeatureSet, catalogue_markdown

    out_file.write_text(catalogue_markdown(FeatureSet(FeatureConfig(), synthetic_attribute_kinds())))
    out.print(f"wrote {out_file}")


@app.command("train")
def train_cmd(
    as_of: Annotated[date, _date_option("Cut-off date the labelled cohort was ingested with.")],
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

    settings = _settings()
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
                family=training_family(_load_policy(policy)),
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

    settings = _settings()
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

    settings = _settings()
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

    settings = _settings()
    reg = _registry()
    target = _version_or_champion(reg, version)
    reg.card(target)  # an unknown version is named before any work
    if duckdb is None and settings.warehouse == "duckdb" and settings.duckdb_path is None:
        run = run_that_trained(reg.store, target)
        found = settings.home / run / "warehouse.duckdb" if run else None
        duckdb = found if found and found.exists() else None
    cfg = _load_policy(policy)
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


runs_app = Cli(help="Recorded runs: list them and compare two.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")


@app.command("score")
def score_cmd(
    as_of: Annotated[
        date | None, _date_option("Cut-off date (default: the one the cohort was ingested with; another is refused).")
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
    from riskops.cli.console import StepConsole
    from riskops.io.artifacts import open_store
    from riskops.runs.job import rescore_run

    settings = _settings()
    rules = _load_policy(policy)
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
    settings = _settings()
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

    settings = _settings()
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

    settings = _settings()
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
        given["book"] = _book["name"]  # a book only when named: the local run's book never moves a cloud root
        settings = Settings(**{k: v for k, v in given.items() if v})
        duck = settings.duckdb_path or settings.home / "warehouse.duckdb"  # the local default, made absolute
        config = StepConfig.parse(StepConfig.from_settings(settings, duck).model_dump())
    except (RiskOpsError, ValueError) as e:
        _fail(e if isinstance(e, RiskOpsError) else RiskOpsError(str(e), "pipeline compile", "fix the option"))
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
    as_of: Annotated[date | None, _date_option("Cut-off date (default: the dataset's own).")] = None,
    shards: ShardsOpt = DEFAULTS.shards,
    by: ByOpt = "",
) -> None:
    """Compile both pipelines with these settings and run the specs locally with kfp.local, each task in its
    own process and empty folder; the executor output goes to <run>/pipeline.log. The mapping travels in the
    specs' arguments, like the policy."""
    from pipelines.runner import run_local
    from riskops.cli.console import StepConsole
    from riskops.data.sources import dataset_as_of
    from riskops.runs.job import prepare_data

    started = datetime.now()
    settings = _run_settings(data)
    params = _run_parameters(
        trials, tuning_timeout, seed, missed_cost, offboard_cost, margin, policy, shards, outcomes, by
    )
    with StepConsole(console) as steps:
        steps.say(f"data: preparing {data}")
        folder = prepare_data(data, data_root, customers, seed, None)
        m = _run_mapping(data, mapping)
        day = as_of.isoformat() if as_of else dataset_as_of(folder, m)
        _, summary = run_local(settings, folder, day, params, steps.finished, steps.tick, m)
    out.print(summary)
    _said_book(settings)
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


@app.command("monitor")
def monitor_cmd(duckdb: DuckOpt = None) -> None:
    """How each published scoring run's list performed against the outcomes known now (tables `outcomes` and
    `stream_outcomes`), matured or not, beside what its scores expected; the latest run's drift."""
    from riskops.io.artifacts import open_store
    from riskops.io.warehouse import open_warehouse
    from riskops.runs.monitor import monitor, read_predictions

    settings = _settings()
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


stream_app = Cli(
    help="Streaming: score customers as they arrive on Pub/Sub, take labelled samples.", no_args_is_help=True
)
app.add_typer(stream_app, name="stream")
ProjectOpt = Annotated[str, typer.Option(envvar="RISKOPS_PUBSUB_PROJECT", help="GCP project of the topics.")]
TopicOpt = Annotated[str, typer.Option(envvar="RISKOPS_STREAM_TOPIC", help="Topic the events are published to.")]
SubscriptionOpt = Annotated[
    str, typer.Option(envvar="RISKOPS_STREAM_SUBSCRIPTION", help="Subscription the worker pulls events from.")
]
DeadLetterOpt = Annotated[
    str, typer.Option(envvar="RISKOPS_STREAM_DEAD_LETTER_TOPIC", help="Topic malformed events go to, with the reason.")
]
ResultsTopicOpt = Annotated[
    str, typer.Option(envvar="RISKOPS_STREAM_RESULTS_TOPIC", help="Topic the results go to (empty: none).")
]


@stream_app.command("topics")
def stream_topics_cmd(
    project: ProjectOpt = "riskops-local",
    topic: TopicOpt = "riskops-events",
    subscription: SubscriptionOpt = "riskops-events-worker",
    dead_letter_topic: DeadLetterOpt = "riskops-events-dead-letter",
    results_topic: ResultsTopicOpt = "riskops-results",
    ack_deadline: Annotated[int, typer.Option(help="Seconds before an unacknowledged event is redelivered.")] = 60,
) -> None:
    """Create the topics and subscriptions when missing (the emulator; Terraform makes them on GCP)."""
    from riskops.io.pubsub import PubSub

    ps = PubSub(project)
    ps.ensure(topic, [subscription], ack_deadline)
    ps.ensure(dead_letter_topic, [f"{dead_letter_topic}-inspect"])
    if results_topic:
        ps.ensure(results_topic, [f"{results_topic}-consumer"])
    ps.close()
    out.print(f"topics {topic}, {dead_letter_topic}, {results_topic or '-'} and subscription {subscription} ready")


@stream_app.command("work")
def stream_work_cmd(
    project: ProjectOpt = "riskops-local",
    subscription: SubscriptionOpt = "riskops-events-worker",
    dead_letter_topic: DeadLetterOpt = "riskops-events-dead-letter",
    results_topic: ResultsTopicOpt = "riskops-results",
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Also append results to this CSV file.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=1000, help="Events per micro-batch at most.")] = 200,
    max_wait: Annotated[float, typer.Option(min=0, help="Seconds a micro-batch waits to fill.")] = 0.1,
    metrics_port: Annotated[int, typer.Option(help="Port of /metrics (0: none).")] = 9100,
    metrics_host: Annotated[str, typer.Option(help="Address /metrics listens on.")] = "127.0.0.1",
    mapping: MappingOpt = None,
    duckdb: DuckOpt = None,
) -> None:
    """Score events from a subscription with the champion until SIGTERM/SIGINT; results to the warehouse table
    stream_results, the results topic and the CSV; labelled samples to the labelled raw tables."""
    import signal
    import threading

    from prometheus_client import start_http_server

    from riskops.io.artifacts import open_store
    from riskops.io.pubsub import PubSub
    from riskops.io.warehouse import open_warehouse
    from riskops.model.registry import Registry
    from riskops.scoring.online import ModelHolder, PublishedPolicy
    from riskops.scoring.stream import StreamConfig, StreamWorker

    settings = _settings()
    store = open_store(settings.artifacts, settings.gcs_endpoint)
    holder = ModelHolder(Registry(store))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    config = StreamConfig(
        subscription, dead_letter_topic, results_topic, csv_path, batch_size, max_wait, settings.model_poll_s
    )
    with open_warehouse(settings, duckdb) as wh:
        worker = StreamWorker(PubSub(project), wh, holder, PublishedPolicy(store), config, load_mapping(mapping))
        worker.refresh()
        if holder.current is None:
            raise RiskOpsError(
                holder.last_failure or "no champion to score with",
                f"model registry at {settings.artifacts}",
                "run `make run` (or promote a model) first",
            )
        if metrics_port:
            start_http_server(metrics_port, addr=metrics_host)
        sinks = ", ".join(x for x in [config.results_table, results_topic, str(csv_path or "")] if x)
        out.print(f"scoring {subscription} with {holder.current.version}; results to {sinks}")
        totals = {"scored": 0, "duplicates": 0, "dead_letters": 0, "labelled": 0}

        def report(b: Any) -> None:
            for k in totals:
                totals[k] += getattr(b, k)
            console.print(" ".join(f"{k} {v:,}" for k, v in totals.items()), highlight=False)

        worker.run(stop, report)
    out.print("stopped: " + ", ".join(f"{k} {v:,}" for k, v in totals.items()))


@stream_app.command("feed")
def stream_feed_cmd(
    data: Annotated[Path, typer.Option(help="Dataset folder from `riskops generate`.")],
    project: ProjectOpt = "riskops-local",
    topic: TopicOpt = "riskops-events",
    rate: Annotated[float, typer.Option(min=0.1, help="Customer events per second.")] = 50.0,
    limit: Annotated[int | None, typer.Option(help="Publish at most this many customers.")] = None,
    outcomes_every: Annotated[float, typer.Option(help="Seconds between batches of outcome events.")] = 60.0,
    outcomes: Annotated[int, typer.Option(help="Outcome events per batch (customers already sent).")] = 20,
) -> None:
    """Publish the unlabelled cohort as customer events at a rate, and their outcomes every minute."""
    import signal
    import threading

    from riskops.io.pubsub import PubSub
    from riskops.scoring.feed import customer_events, hidden_truth, run_feed

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    ps = PubSub(project)
    summary = run_feed(
        ps, topic, customer_events(data, limit=limit), rate, stop, hidden_truth(data), outcomes_every, outcomes
    )
    ps.close()
    out.print(
        f"published {summary.customers:,} customer and {summary.outcomes:,} outcome events in {summary.seconds:.1f}s"
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
