"""One warehouse interface, two backends: DuckDB (embedded default) and BigQuery (production).

SQL is written once in BigQuery's dialect; the DuckDB backend transpiles it with sqlglot.
"""

from __future__ import annotations

from pathlib import Path

from riskops.core.config import Settings
from riskops.io.warehouse.base import Warehouse

__all__ = ["Warehouse", "open_warehouse"]


def open_warehouse(settings: Settings, duckdb_path: Path | None = None) -> Warehouse:
    """Open the configured backend. `duckdb_path` overrides the settings' DuckDB file."""
    if settings.warehouse == "bigquery":
        from riskops.io.warehouse.bigquery import BigQueryWarehouse

        return BigQueryWarehouse.from_settings(settings)
    from riskops.io.warehouse.duckdb import DuckDBWarehouse

    path = duckdb_path or settings.duckdb_path or settings.home / "warehouse.duckdb"
    return DuckDBWarehouse(path, memory_limit=settings.duckdb_memory_limit, threads=settings.duckdb_threads)
