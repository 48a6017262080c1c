"""A load replaces a cohort's tables all together or not at all (issue: hostile input, finding 6): a bad file,
whether caught by the checks or only by the warehouse while reading it, leaves every table as it was."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from cli.main import app
from riskops.core.errors import RiskOpsError
from riskops.data.sources import load_sources
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from tests.conftest import GOOD_CUSTOMERS, GOOD_TX

CUSTOMERS, TRANSACTIONS = "raw_labelled_customers", "raw_labelled_transactions"


def _good_files(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    pcsv.write_csv(pa.Table.from_pylist(GOOD_CUSTOMERS), folder / "customers.csv")
    pq.write_table(pa.Table.from_pylist(GOOD_TX), folder / "transactions.parquet")
    return folder / "customers.csv", folder / "transactions.parquet"


def _new_customers(folder: Path) -> Path:
    """A valid customers file with other rows than the loaded one."""
    rows = [{**c, "customer_id": f"new-{c['customer_id']}"} for c in GOOD_CUSTOMERS * 2]
    folder.mkdir(parents=True, exist_ok=True)
    pcsv.write_csv(pa.Table.from_pylist(rows), folder / "customers.csv")
    return folder / "customers.csv"


def _ids(wh: DuckDBWarehouse) -> list[str]:
    return sorted(wh.read_table(CUSTOMERS).column("customer_id").to_pylist())


def _tables(wh: DuckDBWarehouse) -> set[str]:
    return {r[0] for r in wh.con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def test_a_transactions_file_that_is_not_parquet_changes_no_table(tmp_path: Path) -> None:
    customers, transactions = _good_files(tmp_path / "day1")
    broken = tmp_path / "day2" / "transactions.parquet"
    broken.parent.mkdir()
    broken.write_bytes(b"PAR1 this is not a parquet file")
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh:
        load_sources(wh, {CUSTOMERS: customers, TRANSACTIONS: transactions})
        before = _ids(wh)
        with pytest.raises(RiskOpsError):
            load_sources(wh, {CUSTOMERS: _new_customers(tmp_path / "day2"), TRANSACTIONS: broken})
        assert _ids(wh) == before
        assert wh.count(TRANSACTIONS) == len(GOOD_TX)


def test_a_file_the_warehouse_fails_to_read_changes_no_table(tmp_path: Path) -> None:
    """The schema reads, the pages do not: only the warehouse notices, after the customers already loaded."""
    customers, transactions = _good_files(tmp_path / "day1")
    corrupt = tmp_path / "day2" / "transactions.parquet"
    corrupt.parent.mkdir()
    pq.write_table(pa.Table.from_pylist(GOOD_TX * 50), corrupt, compression="zstd")
    data = bytearray(corrupt.read_bytes())
    footer = int.from_bytes(data[-8:-4], "little") + 8  # the footer (the schema) stays readable
    for i in range(8, len(data) - footer - 8, 7):
        data[i] ^= 0x5A
    corrupt.write_bytes(bytes(data))
    pq.read_schema(corrupt)  # the checks before loading pass
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh:
        load_sources(wh, {CUSTOMERS: customers, TRANSACTIONS: transactions})
        before = _ids(wh)
        with pytest.raises(RiskOpsError):
            load_sources(wh, {CUSTOMERS: _new_customers(tmp_path / "day2"), TRANSACTIONS: corrupt})
        assert _ids(wh) == before
        assert wh.count(TRANSACTIONS) == len(GOOD_TX)
        assert not any(t.startswith("_staging_") for t in _tables(wh))


def test_riskops_load_with_a_corrupt_transactions_file_exits_2_and_keeps_the_customers(tmp_path: Path) -> None:
    customers, transactions = _good_files(tmp_path / "day1")
    db = str(tmp_path / "w.duckdb")
    runner = CliRunner()
    ok = runner.invoke(
        app, ["load", "--customers", str(customers), "--transactions", str(transactions), "--duckdb", db]
    )
    assert ok.exit_code == 0, ok.output
    broken = tmp_path / "day2" / "transactions.parquet"
    broken.parent.mkdir()
    broken.write_bytes(b"garbage")
    new = _new_customers(tmp_path / "day2")
    bad = runner.invoke(app, ["load", "--customers", str(new), "--transactions", str(broken), "--duckdb", db])
    assert bad.exit_code == 2 and "transactions.parquet" in bad.output
    with DuckDBWarehouse(Path(db)) as wh:
        assert all(i.startswith("c") for i in _ids(wh))
