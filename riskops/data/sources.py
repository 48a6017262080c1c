"""Put source data into the warehouse's raw tables: a dataset folder (generator/AMLSim layout) or files."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TypeAlias

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from riskops.core.errors import DataContractError
from riskops.core.names import check_column, check_table
from riskops.data.contract import BAD_ENCODING, COHORTS, Cohort, Mapping
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


def read_source(table: str, path: Path) -> Source:
    """Check a source before anything is loaded: Parquet files (their schemas read, not their rows) or one
    CSV file (read, types inferred by Arrow); every column name checked; the target table name checked."""
    files = _files(path)
    check_table(table, f"the mapping's table for {path}")
    if all(f.suffix == ".parquet" for f in files):
        for f in files:
            try:
                schema = pq.read_schema(f)
            except (pa.ArrowInvalid, OSError) as e:
                raise DataContractError(f"{f.name} is not a readable Parquet file: {e}", str(f), "re-export it") from e
            _check_names(schema.names, f)
        return files
    if len(files) != 1:
        raise DataContractError(f"expected one CSV file, found {len(files)}", str(path), "pass a single CSV file")
    try:
        data = pcsv.read_csv(files[0])
    except pa.ArrowInvalid as e:
        raise DataContractError(f"{files[0].name} is not a readable CSV: {e}", str(files[0]), "fix the file") from e
    _check_names(data.column_names, files[0])
    data = _decode_binary_columns(data)
    if data.num_rows == 0:
        raise DataContractError(
            f"{files[0].name} has a header but no rows", str(files[0]), "export the rows, or leave the file out"
        )
    return data


def load_sources(wh: Warehouse, sources: dict[str, Path]) -> dict[str, int]:
    """Load several sources into their tables all together or not at all: every source is checked first, and
    the warehouse replaces the tables only when every one has loaded. Returns row counts per table."""
    return wh.load_all({table: read_source(table, path) for table, path in sources.items()})


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


def _check_names(names: list[str], path: Path) -> None:
    """Every column name of a source file is checked before it is loaded: it will reach SQL later. A name
    must appear once (SQL compares names without case)."""
    seen: dict[str, str] = {}
    for name in names:
        check_column(name, f"{path}: header of a column")
        if name.lower() in seen:
            raise DataContractError(
                f"column {name!r} appears twice (as {seen[name.lower()]!r} too)", f"{path}: header",
                "rename or drop one of them in the source",
            )  # fmt: skip
        seen[name.lower()] = name


def load_dataset(
    wh: Warehouse, folder: Path, mapping: Mapping | None = None, cohorts: tuple[Cohort, ...] = COHORTS
) -> dict[str, int]:
    """Load `<folder>/<cohort>/{customers,transactions}/` into the mapping's raw tables; returns row counts."""
    mapping = mapping or Mapping()
    if not (folder / "manifest.json").exists():
        raise DataContractError(
            f"{folder} is not a dataset folder (no manifest.json)",
            str(folder),
            "make one with `riskops generate` or `riskops amlsim`, or load files with `riskops load`",
        )
    sources: dict[str, Path] = {}
    for cohort in (c for c in cohorts if (folder / c).exists()):
        tables = mapping.cohorts[cohort]
        sources[tables.customers] = folder / cohort / "customers"
        sources[tables.transactions] = folder / cohort / "transactions"
    log.debug("loading %s", sources)
    return load_sources(wh, sources)


def dataset_as_of(folder: Path) -> str:
    return str(json.loads((folder / "manifest.json").read_text())["as_of"])
