"""The `riskops` command line's frame: the app, its error reporting, the book a command works on, the options
several commands share."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.logging import RichHandler
from typer.models import CommandFunctionType

from riskops.core.config import Settings
from riskops.core.errors import RiskOpsError
from riskops.data.contract import Mapping, load_mapping

if TYPE_CHECKING:
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
                    fail(e)

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


def named_book() -> str:
    """The book --book names ("" when none: the environment or the last run decides)."""
    return _book["name"]


def book_settings() -> Settings:
    """This command's settings: the book named by --book or RISKOPS_BOOK, else the last local run's book."""
    return Settings.load(**({"book": _book["name"]} if _book["name"] else {}))


def run_settings(data: str) -> Settings:
    """A run's settings: the book named by --book or RISKOPS_BOOK, else the one its data names (synthetic,
    credit, amlsim, the folder's name); remembered as the book later commands work on."""
    from riskops.core.config import book_name, remember_book

    named = _book["name"] or Settings().book
    settings = Settings(book=named or book_name(data))
    remember_book(settings)
    return settings


def said_book(settings: Settings) -> None:
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


def fail(e: RiskOpsError) -> NoReturn:
    console.print(f"[bold red]error:[/] {e}")
    raise typer.Exit(2)


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None


def date_option(help: str) -> Any:
    """A date option: YYYY-MM-DD, anything else a usage error naming the format."""
    return typer.Option(parser=_parse_date, help=help)


PolicyOpt = Annotated[
    Path | None,
    typer.Option(
        "--policy", help="YAML/JSON off-boarding policy (cut-offs, Medium factor, rules); default: the model's."
    ),
]


def load_policy_file(path: Path | None) -> OffboardConfig | None:
    """An off-boarding policy file, checked (None: the model's default)."""
    from riskops.scoring.policy import load_policy

    return load_policy(path) if path else None


def run_mapping(data: str, path: Path | None) -> Mapping:
    """The mapping file given, else the one the data comes with (the credit book's coded attributes)."""
    from riskops.runs.job import default_mapping

    return load_mapping(path) if path else default_mapping(data)


def run_parameters(
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
        policy=load_policy_file(policy),
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
