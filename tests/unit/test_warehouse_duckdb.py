from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from riskops.core.config import Settings
from riskops.core.errors import ConfigError, WarehouseError
from riskops.io.warehouse import open_warehouse
from riskops.io.warehouse.duckdb import DuckDBWarehouse, to_duckdb


def test_bigquery_sql_is_transpiled() -> None:
    sql = to_duckdb("SELECT SAFE_CAST(x AS FLOAT64) AS y, IS_NAN(z) FROM `main.t`")
    assert "TRY_CAST" in sql and "DOUBLE" in sql


def test_load_parquet_files_and_arrow(tmp_path: Path, duck: DuckDBWarehouse) -> None:
    for i in range(2):
        pq.write_table(pa.table({"a": [i, i], "b": ["x", "y"]}), tmp_path / f"p{i}.parquet")
    assert duck.load("t", sorted(tmp_path.glob("*.parquet"))) == 4
    assert duck.columns("t") == {"a": "INT64", "b": "STRING"}
    assert duck.load("t", pa.table({"a": [1.5]})) == 1  # replaces
    assert duck.columns("t") == {"a": "FLOAT64"}
    assert duck.query("SELECT SUM(a) AS s FROM main.t").column("s").to_pylist() == [1.5]


def test_errors_name_the_statement(duck: DuckDBWarehouse) -> None:
    with pytest.raises(WarehouseError, match="DuckDB refused a query"):
        duck.query("SELECT * FROM main.missing")
    with pytest.raises(WarehouseError, match="does not exist"):
        duck.columns("missing")


def test_file_lives_where_configured(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    with open_warehouse(settings) as wh:
        wh.load("t", pa.table({"a": [1]}))
    assert (tmp_path / "warehouse.duckdb").exists()


def test_production_needs_a_bigquery_project() -> None:
    with pytest.raises(ConfigError, match="RISKOPS_BQ_PROJECT"):
        Settings(environment="production", warehouse="bigquery")
    with pytest.raises(ConfigError, match="emulator endpoint"):
        Settings(environment="production", bq_project="p", warehouse="bigquery", bq_endpoint="http://127.0.0.1:1")
