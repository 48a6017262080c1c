"""Put source data into the warehouse's raw tables: a dataset folder (generator/AMLSim layout) or files."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from riskops.core.errors import DataContractError
from riskops.core.names import check_column, check_table
from riskops.data.contract import COHORTS, Cohort, Mapping
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


def load_source(wh: Warehouse, table: str, path: Path) -> int:
    """Load Parquet files as they are, or a CSV file (types inferred by Arrow) into `table`."""
    files = _files(path)
    check_table(table, f"the mapping's table for {path}")
    if all(f.suffix == ".parquet" for f in files):
        for f in files:
            try:
                schema = pq.read_schema(f)
            except (pa.ArrowInvalid, OSError) as e:
                raise DataContractError(f"{f.name} is not a readable Parquet file: {e}", str(f), "re-export it") from e
            _check_names(schema.names, f)
        return wh.load(table, files)
    if len(files) != 1:
        raise DataContractError(f"expected one CSV file, found {len(files)}", str(path), "pass a single CSV file")
    try:
        table_data = pcsv.read_csv(files[0])
    except pa.ArrowInvalid as e:
        raise DataContractError(f"{files[0].name} is not a readable CSV: {e}", str(files[0]), "fix the file") from e
    _check_names(table_data.column_names, files[0])
    return wh.load(table, table_data)


def _check_names(names: list[str], path: Path) -> None:
    """Every column name of a source file is checked before it is loaded: it will reach SQL later."""
    for name in names:
        check_column(name, f"{path}: header of a column")


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
    counts: dict[str, int] = {}
    for cohort in (c for c in cohorts if (folder / c).exists()):
        tables = mapping.cohorts[cohort]
        for kind, table in (("customers", tables.customers), ("transactions", tables.transactions)):
            log.debug("loading %s %s into %s", cohort, kind, table)
            counts[table] = load_source(wh, table, folder / cohort / kind)
    return counts


def dataset_as_of(folder: Path) -> str:
    return str(json.loads((folder / "manifest.json").read_text())["as_of"])
