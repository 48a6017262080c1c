"""Data commands: generate a book, convert AMLSim, load a bank's files, ingest a cohort, build features."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from cli.app import (
    Cli,
    DuckOpt,
    MappingOpt,
    app,
    book_settings,
    console,
    date_option,
    out,
)
from riskops.data.contract import Cohort, load_mapping, table_name
from riskops.data.synth import DEFAULT_CUSTOMERS
from riskops.runs.parameters import DEFAULTS


@app.command("generate")
def generate_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the dataset into (replaced when done).")],
    customers: Annotated[int, typer.Option(help="Customers in all, labelled + unlabelled.", min=2)] = DEFAULT_CUSTOMERS,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = DEFAULTS.seed,
    as_of: Annotated[date | None, date_option("Cut-off date YYYY-MM-DD (default 2026-09-30).")] = None,
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

        with open_warehouse(book_settings(), duckdb) as wh:
            loaded = load_outcomes(wh, outcomes, load_mapping(mapping))
        out.print(loaded.summary())
        return
    if dataset is None and (customers is None or transactions is None):
        raise typer.BadParameter("pass --dataset, --outcomes, or both --customers and --transactions")
    m = load_mapping(mapping)
    with open_warehouse(book_settings(), duckdb) as wh:
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
    as_of: Annotated[date, date_option("Cut-off date YYYY-MM-DD: nothing on a later day is used.")],
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

    settings = book_settings()
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


features_app = Cli(help="Feature tables and the feature catalogue.", no_args_is_help=True)
app.add_typer(features_app, name="features")


@features_app.command("build")
def features_build_cmd(
    as_of: Annotated[date, date_option("Cut-off date YYYY-MM-DD (the one the cohort was ingested with).")],
    cohort: Annotated[Cohort, typer.Option(help="labelled or unlabelled.")] = "labelled",
    duckdb: DuckOpt = None,
) -> None:
    """Compute `<cohort>_features` in the warehouse: one row per customer."""
    from riskops.data.contract import as_of_cutoff
    from riskops.features.engineering import build_features
    from riskops.io.warehouse import open_warehouse

    with open_warehouse(book_settings(), duckdb) as wh:
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
