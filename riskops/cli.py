"""The `riskops` command line: a thin shell over the library."""

from __future__ import annotations

import logging
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal, cast

import typer
from rich.console import Console
from rich.logging import RichHandler

from riskops.config import Settings
from riskops.contract import COHORTS, Cohort, load_mapping
from riskops.errors import RiskOpsError

app = typer.Typer(
    help="Customer-risk platform: generate or load data, validate it, and (later) train, score and explain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console(soft_wrap=True)

MappingOpt = Annotated[
    Path | None,
    typer.Option("--mapping", help="YAML mapping of your tables/columns/labels onto the contract."),
]
DuckOpt = Annotated[
    Path | None,
    typer.Option("--duckdb", help="DuckDB file (default: RISKOPS_DUCKDB_PATH or <home>/warehouse.duckdb)."),
]


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )


def _fail(e: RiskOpsError) -> None:
    console.print(f"[bold red]error:[/] {e}")
    raise typer.Exit(2)


def _parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None


@app.command("generate")
def generate_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the dataset into (replaced when done).")],
    customers: Annotated[int, typer.Option(help="Customers in all, labelled + unlabelled.", min=2)] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 42,
    as_of: Annotated[str | None, typer.Option(help="Cut-off date YYYY-MM-DD (default 2026-09-30).")] = None,
    unlabelled_share: Annotated[
        float, typer.Option(help="Share of customers in the unlabelled cohort.", min=0, max=0.9)
    ] = 0.2,
    chunk_size: Annotated[int, typer.Option(help="Customers generated per chunk (bounds memory).", min=100)] = 5_000,
) -> None:
    """Generate a synthetic fintech book: customers, transactions and suspension labels."""
    from rich.progress import Progress

    from riskops.synth import DEFAULT_AS_OF, generate

    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("generating", total=customers)
        summary = generate(
            out_dir,
            customers=customers,
            seed=seed,
            as_of=_parse_date(as_of) or DEFAULT_AS_OF,
            unlabelled_share=unlabelled_share,
            chunk_size=chunk_size,
            progress=lambda cohort, done, total: progress.update(task, completed=done, description=cohort),
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
    from riskops.amlsim import default_dir, load_amlsim

    try:
        s = load_amlsim(source or default_dir(), out_dir, unlabelled_share)
    except RiskOpsError as e:
        _fail(e)
    out.print(f"wrote {out_dir}: as of {s.as_of}, customers {s.customers}, transactions {s.transactions}")


@app.command("load")
def load_cmd(
    dataset: Annotated[Path | None, typer.Option(help="Dataset folder (from generate/amlsim) to load whole.")] = None,
    cohort: Annotated[
        str, typer.Option(help="Cohort for --customers/--transactions: labelled or unlabelled.")
    ] = "labelled",
    customers: Annotated[Path | None, typer.Option(help="Customers file or folder (Parquet or CSV).")] = None,
    transactions: Annotated[Path | None, typer.Option(help="Transactions file or folder (Parquet or CSV).")] = None,
    mapping: MappingOpt = None,
    duckdb: DuckOpt = None,
) -> None:
    """Load source data into the warehouse's raw tables (as named in the mapping)."""
    from riskops.sources import load_dataset, load_source
    from riskops.warehouse import open_warehouse

    if cohort not in COHORTS:
        raise typer.BadParameter(f"cohort must be one of {COHORTS}")
    if dataset is None and (customers is None or transactions is None):
        raise typer.BadParameter("pass --dataset, or both --customers and --transactions")
    try:
        m = load_mapping(mapping)
        with open_warehouse(Settings(), duckdb) as wh:
            if dataset is not None:
                counts = load_dataset(wh, dataset, m)
            else:
                assert customers is not None and transactions is not None
                t = m.cohorts[cohort]
                counts = {
                    t.customers: load_source(wh, t.customers, customers),
                    t.transactions: load_source(wh, t.transactions, transactions),
                }
    except RiskOpsError as e:
        _fail(e)
    out.print("loaded " + ", ".join(f"{k}: {v:,} rows" for k, v in counts.items()))


@app.command("ingest")
def ingest_cmd(
    as_of: Annotated[str, typer.Option(help="Cut-off date YYYY-MM-DD: nothing on a later day is used.")],
    cohort: Annotated[str, typer.Option(help="labelled (needs account_state) or unlabelled.")] = "labelled",
    mapping: MappingOpt = None,
    duckdb: DuckOpt = None,
    report_prefix: Annotated[str | None, typer.Option(help="Where in the artifact store to write the report.")] = None,
) -> None:
    """Validate a cohort into clean + quarantine tables and write the validation report."""
    from riskops.artifacts import open_store
    from riskops.ingest import ingest_cohort
    from riskops.runinfo import new_run_id
    from riskops.warehouse import open_warehouse

    if cohort not in COHORTS:
        raise typer.BadParameter(f"cohort must be one of {COHORTS}")
    settings = Settings()
    day = _parse_date(as_of)
    assert day is not None
    prefix = report_prefix or f"{new_run_id()}/validation/{cohort}"
    try:
        with open_warehouse(settings, duckdb) as wh:
            c: Cohort = cohort
            report = ingest_cohort(
                wh,
                c,
                day,
                open_store(settings.artifacts, settings.gcs_endpoint),
                prefix,
                load_mapping(mapping),
            )
    except RiskOpsError as e:
        _fail(e)
    out.print(report.summary())
    out.print(f"report: {report.report_uri}")


@app.command("run")
def run_cmd(
    data: Annotated[
        str, typer.Option(help="synthetic (generated, cached) or amlsim (../shared/data/amlsim).")
    ] = "synthetic",
    customers: Annotated[int, typer.Option(help="Synthetic customers in all.", min=2)] = 20_000,
    seed: Annotated[int, typer.Option(help="Synthetic data seed.")] = 42,
    data_root: Annotated[Path, typer.Option(help="Where prepared datasets are cached.")] = Path("data"),
    amlsim_dir: Annotated[Path | None, typer.Option(help="AMLSim folder (default ../shared/data/amlsim).")] = None,
    mapping: MappingOpt = None,
    as_of: Annotated[str | None, typer.Option(help="Cut-off date (default: the dataset's own).")] = None,
) -> None:
    """The main job on embedded defaults: prepare data, load it into DuckDB, ingest and validate both cohorts."""
    from riskops.job import run_job

    if data not in ("synthetic", "amlsim"):
        raise typer.BadParameter("--data must be synthetic or amlsim")
    started = datetime.now()
    try:
        result = run_job(
            Settings(),
            source=cast(Literal["synthetic", "amlsim"], data),
            customers=customers,
            seed=seed,
            data_root=data_root,
            amlsim_dir=amlsim_dir,
            mapping=load_mapping(mapping),
            as_of=_parse_date(as_of),
            step=lambda msg: console.print(f"[cyan]{datetime.now():%H:%M:%S}[/] {msg}"),
        )
    except RiskOpsError as e:
        _fail(e)
    out.print(result.summary())
    out.print(f"done in {(datetime.now() - started).total_seconds():.1f}s")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
