"""Put source data into the warehouse's raw tables: a dataset folder (generator/AMLSim layout) or files."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from pathlib import Path
from typing import Literal, TypeAlias

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from riskops.core.errors import DataContractError
from riskops.core.names import check_column, check_table, safe_column
from riskops.data.contract import BAD_ENCODING, COHORTS, TRANSACTION_COLUMNS, Cohort, Mapping
from riskops.io.warehouse.base import Warehouse

log = logging.getLogger(__name__)


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(path.glob("*.parquet")) + sorted(path.glob("*.csv"))
    elif path.exists():
        files = [path]
    else:
        files = []
    if not files:
        raise DataContractError(f"no Parquet or CSV files at {path}", str(path), "check the path")
    return files


Source: TypeAlias = pa.Table | list[Path]


def read_source(table: str, path: Path, text_columns: Collection[str] = ()) -> Source:
    """Check a source before anything is loaded: Parquet files (their schemas read, not their rows) or one
    CSV file (read, types inferred by Arrow, except `text_columns` (safe names), read as text so that an id
    `007` stays `007`); every column name checked; the target table name checked."""
    files = _files(path)
    check_table(table, f"the mapping's table for {path}")
    renames: dict[str, str] = {}
    if all(f.suffix == ".parquet" for f in files):
        for f in files:
            try:
                schema = pq.read_schema(f)
            except (pa.ArrowInvalid, OSError) as e:
                raise DataContractError(f"{f.name} is not a readable Parquet file: {e}", str(f), "re-export it") from e
            renames |= _safe_names(schema.names, f)
        if renames:  # a name that cannot reach SQL as it is: read the files to load them under safe names
            tables = [pq.read_table(f) for f in files]
            data = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
            return data.rename_columns([renames.get(n, n) for n in data.column_names])
        return files
    if len(files) != 1:
        raise DataContractError(f"expected one CSV file, found {len(files)}", str(path), "pass a single CSV file")
    try:
        header = pcsv.open_csv(files[0]).schema.names  # the first block only
        # binary, decoded below like any column with a byte that is not UTF-8 (quarantined, not refused)
        as_text = {n: pa.binary() for n in header if safe_column(n) in text_columns}
        data = pcsv.read_csv(files[0], convert_options=pcsv.ConvertOptions(column_types=as_text))
    except pa.ArrowInvalid as e:
        raise DataContractError(f"{files[0].name} is not a readable CSV: {e}", str(files[0]), "fix the file") from e
    renames = _safe_names(data.column_names, files[0])
    data = _decode_binary_columns(data.rename_columns([renames.get(n, n) for n in data.column_names]))
    for name in (n for n in data.column_names if n in text_columns):  # an empty id is a missing one
        column = data.column(name)
        data = data.set_column(data.column_names.index(name), name, pc.if_else(pc.equal(column, ""), None, column))
    if data.num_rows == 0:
        raise DataContractError(
            f"{files[0].name} has a header but no rows", str(files[0]), "export the rows, or leave the file out"
        )
    return data


def load_sources(
    wh: Warehouse, sources: dict[str, Path], text_columns: dict[str, Collection[str]] | None = None
) -> dict[str, int]:
    """Load several sources into their tables all together or not at all: every source is checked first, and
    the warehouse replaces the tables only when every one has loaded (`text_columns`: per table, the CSV
    columns read as text). Returns row counts per table."""
    text = text_columns or {}
    return wh.load_all({table: read_source(table, path, text.get(table, ())) for table, path in sources.items()})


def load_source(wh: Warehouse, table: str, path: Path) -> int:
    """Load one source into `table` (see `load_sources`)."""
    return load_sources(wh, {table: path})[table]


def _decode_binary_columns(data: pa.Table) -> pa.Table:
    """A CSV column holding a byte that is not UTF-8 comes back from Arrow as binary. Decode it: a value that
    does not decode becomes NULL and its row names the column in `_bad_encoding`, for ingest to quarantine
    with the reason `bad_encoding`; one bad row never turns a whole column into the wrong type."""
    bad: list[list[str]] = [[] for _ in range(data.num_rows)]
    for i, field in enumerate(data.schema):
        if not (pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type)):
            continue
        try:  # the common case, checked in Arrow: every value is UTF-8
            data = data.set_column(i, field.name, data.column(i).cast(pa.string()))
            continue
        except pa.ArrowInvalid:
            pass
        values: list[str | None] = []
        for row, value in enumerate(data.column(i).to_pylist()):
            try:
                values.append(None if value is None else value.decode("utf-8"))
            except UnicodeDecodeError:
                values.append(None)
                bad[row].append(field.name)
        data = data.set_column(i, field.name, pa.array(values, pa.string()))
    if any(bad):
        data = data.append_column(BAD_ENCODING, pa.array([", ".join(b) or None for b in bad], pa.string()))
    return data


def _safe_names(names: list[str], path: Path) -> dict[str, str]:
    """Every column name of a source file checked before it is loaded (it will reach SQL later); a name with a
    character SQL cannot carry safely gets its safe form (`safe_column`). A name must appear once, after that
    and without case (SQL compares names without case). Returns the renames."""
    renames = {n: safe_column(n) for n in names if safe_column(n) != n}
    seen: dict[str, str] = {}
    for name in names:
        safe = check_column(renames.get(name, name), f"{path}: header of a column")
        if safe.lower() in seen:
            raise DataContractError(
                f"column {name!r} appears twice (as {seen[safe.lower()]!r} too"
                f"{', once characters SQL cannot carry become _' if renames else ''})",
                f"{path}: header",
                "rename or drop one of them in the source",
            )
        seen[safe.lower()] = name
    for name, safe in renames.items():
        log.info("%s: column %r is loaded as %r", path, name, safe)
    return renames


def cohort_source(folder: Path, cohort: Cohort, table: str) -> Path:
    """Where a dataset folder holds one table of a cohort: `<cohort>/<table>/` (a folder of Parquet or CSV files,
    the layout the generator writes) or one file `<cohort>/<table>.parquet` or `<cohort>/<table>.csv`."""
    candidates = [folder / cohort / table, folder / cohort / f"{table}.parquet", folder / cohort / f"{table}.csv"]
    found = [c for c in candidates if c.exists()]
    if len(found) != 1:
        names = ", ".join(str(c.relative_to(folder)) for c in (found or candidates))
        raise DataContractError(
            f"{'no' if not found else 'more than one'} {cohort} {table} source in {folder} ({names})",
            str(folder / cohort),
            f"put exactly one of {cohort}/{table}.csv, {cohort}/{table}.parquet or a folder {cohort}/{table}/ there",
        )
    return found[0]


def dataset_cohorts(folder: Path) -> tuple[Cohort, ...]:
    """The cohorts a dataset folder holds; refuses a folder with neither."""
    cohorts = tuple(c for c in COHORTS if (folder / c).is_dir())
    if not folder.is_dir() or "labelled" not in cohorts:
        raise DataContractError(
            f"{folder} is not a dataset folder (no labelled/ in it)",
            str(folder),
            "make one with `riskops generate` or `riskops amlsim`, or lay out your files as "
            "labelled/customers.csv|parquet, labelled/transactions.csv|parquet and the same under unlabelled/",
        )
    return cohorts


def load_dataset(
    wh: Warehouse, folder: Path, mapping: Mapping | None = None, cohorts: tuple[Cohort, ...] = COHORTS
) -> dict[str, int]:
    """Load a dataset folder's cohorts (`cohort_source`) into the mapping's raw tables, all or none; returns
    row counts. A cohort without transactions (an attributes-only book) gets an empty transactions table."""
    mapping = mapping or Mapping()
    sources: dict[str, Source] = {}
    present = dataset_cohorts(folder)
    for cohort in (c for c in cohorts if c in present):
        tables = mapping.cohorts[cohort]
        sources[tables.customers] = read_source(
            tables.customers, cohort_source(folder, cohort, "customers"), id_columns(mapping, "customers")
        )
        if has_transactions(folder, cohort):
            sources[tables.transactions] = read_source(
                tables.transactions, cohort_source(folder, cohort, "transactions"), id_columns(mapping, "transactions")
            )
        else:
            log.info("%s: no transactions in %s, an attributes-only cohort", cohort, folder)
            sources[tables.transactions] = no_transactions(mapping)
    log.debug("loading %s", sources)
    return wh.load_all(sources)


def id_columns(mapping: Mapping, table: Literal["customers", "transactions"]) -> tuple[str, ...]:
    """The source columns holding ids, read as text from a CSV (ids are text end to end)."""
    ids = ("customer_id",) if table == "customers" else ("transaction_id", "customer_id", "counterparty_id")
    return tuple(mapping.source_column(table, c) for c in ids)


def has_transactions(folder: Path, cohort: Cohort) -> bool:
    return any((folder / cohort / f"transactions{suffix}").exists() for suffix in ("", ".parquet", ".csv"))


def no_transactions(mapping: Mapping) -> pa.Table:
    """An empty transactions table under the mapping's source names, typed as the contract says."""
    types = {"STRING": pa.string(), "TIMESTAMP": pa.timestamp("us", tz="UTC"), "FLOAT64": pa.float64()}
    fields = [
        pa.field(mapping.source_column("transactions", c.name), types[c.type])
        for c in TRANSACTION_COLUMNS
        if c.required or c.name not in mapping.transactions.defaults
    ]
    return pa.schema(fields).empty_table()


def dataset_as_of(folder: Path, mapping: Mapping | None = None) -> str:
    """The cut-off date of a dataset folder: its manifest's, or else the last day on which its transactions
    (labelled and unlabelled, the mapping's `ts` column) have a timestamp that is not in the future."""
    manifest = folder / "manifest.json"
    if manifest.exists():
        return str(json.loads(manifest.read_text())["as_of"])
    ts = (mapping or Mapping()).source_column("transactions", "ts")
    last: pd.Timestamp | None = None
    for cohort in (c for c in dataset_cohorts(folder) if has_transactions(folder, c)):
        path = cohort_source(folder, cohort, "transactions")
        values = pd.to_datetime(pd.Series(_read_column(path, ts), dtype=object), utc=True, errors="coerce")
        values = values[values <= pd.Timestamp.now(tz="UTC")]
        if values.notna().any():
            newest = values.max()
            last = newest if last is None else max(last, newest)
    if last is None:
        raise DataContractError(
            f"cannot tell the dataset's cut-off date: no transaction in {folder} has a usable {ts!r} timestamp "
            "(or there are no transactions)",
            str(folder),
            "pass --as-of YYYY-MM-DD, or map the transactions' time column (transactions.columns.ts)",
        )
    return str(last.date().isoformat())


def _read_column(path: Path, column: str) -> list[object]:
    """One column of a table source (a file or a folder of files), named in its safe form, as Python values."""
    values: list[object] = []
    for f in _files(path):
        try:
            names = pq.read_schema(f).names if f.suffix == ".parquet" else pcsv.open_csv(f).schema.names
            name = next((n for n in names if safe_column(n) == column), column)  # as the file spells it
            if f.suffix == ".parquet":
                values += pq.read_table(f, columns=[name]).column(0).to_pylist()
            else:
                opts = pcsv.ConvertOptions(include_columns=[name], column_types={name: pa.string()})
                values += pcsv.read_csv(f, convert_options=opts).column(0).to_pylist()
        except (pa.ArrowInvalid, KeyError, OSError) as e:
            raise DataContractError(
                f"cannot read column {column!r} of {f.name}: {e}",
                str(f),
                "check the mapping's transactions.columns.ts, or pass --as-of YYYY-MM-DD",
            ) from e
    return values
