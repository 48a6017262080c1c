"""Data files as an attacker or a careless export makes them (issue: hostile input, finding 8): each is either
loaded and its bad rows quarantined with a reason, or refused with what, where and what to do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pytest

from riskops.core.errors import DataContractError
from riskops.data.ingest import ingest_cohort
from riskops.data.sources import load_sources
from riskops.io.artifacts import LocalStore
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from tests.conftest import AS_OF, GOOD_CUSTOMERS, GOOD_TX, NOW, tx

CUSTOMERS, TRANSACTIONS = "raw_labelled_customers", "raw_labelled_transactions"


def _csv(path: Path, rows: list[dict[str, Any]], replace: tuple[bytes, bytes] | None = None) -> Path:
    pcsv.write_csv(pa.Table.from_pylist(rows), path)
    if replace:
        data = path.read_bytes()
        assert replace[0] in data
        path.write_bytes(data.replace(replace[0], replace[1]))
    return path


def _ingest(tmp_path: Path, customers: Path, transactions: Path) -> tuple[DuckDBWarehouse, Any]:
    wh = DuckDBWarehouse(tmp_path / "w.duckdb")
    load_sources(wh, {CUSTOMERS: customers, TRANSACTIONS: transactions})
    return wh, ingest_cohort(wh, "labelled", AS_OF, LocalStore(tmp_path / "s"), "r", now=NOW)


def test_a_byte_that_is_not_utf8_quarantines_its_row_not_the_run(tmp_path: Path) -> None:
    rows = [*GOOD_TX[:-1], {**GOOD_TX[-1], "type": "MARKER"}]
    transactions = _csv(tmp_path / "tx.csv", rows, (b"MARKER", b"card\xff\xfe"))
    customers = _csv(tmp_path / "c.csv", GOOD_CUSTOMERS)
    wh, report = _ingest(tmp_path, customers, transactions)
    with wh:
        assert report.transactions.by_reason == {"bad_encoding": 1}
        assert wh.count("labelled_transactions") == len(GOOD_TX) - 1
        bad = wh.read_table("labelled_quarantine_transactions").to_pylist()
        assert bad[0]["transaction_id"] == GOOD_TX[-1]["transaction_id"] and bad[0]["_bad_encoding"] == "type"
        assert "_bad_encoding" not in wh.columns("labelled_transactions")
        assert wh.columns("labelled_transactions")["type"] == "STRING"


def test_an_empty_or_blank_amount_is_missing_and_text_a_bad_type(tmp_path: Path) -> None:
    many = [tx(f"t{i}", f"c{1 + i % 3}") for i in range(100)]  # two bad rows stay under the 5% limit
    rows = [*many[:-2], {**many[-2], "amount": "MISSING"}, {**many[-1], "amount": "ten euros"}]
    rows = [{**r, "amount": str(r["amount"])} for r in rows]  # exported as text, as many CRMs do
    transactions = _csv(tmp_path / "tx.csv", rows, (b'"MISSING"', b'"  "'))
    wh, report = _ingest(tmp_path, _csv(tmp_path / "c.csv", GOOD_CUSTOMERS), transactions)
    with wh:
        assert report.transactions.by_reason == {"missing_amount": 1, "bad_type:amount": 1}


def test_duplicate_column_names_are_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    _csv(path, GOOD_CUSTOMERS)
    header, rest = path.read_bytes().split(b"\n", 1)
    path.write_bytes(
        header.replace(b'"age"', b'"AGE"')
        + b',"age"\n'
        + b"\n".join(line + b",1" for line in rest.strip().split(b"\n"))
        + b"\n"
    )
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh, pytest.raises(DataContractError) as e:
        load_sources(wh, {CUSTOMERS: path})
    assert "'age' appears twice (as 'AGE' too)" in e.value.what and "c.csv" in e.value.where


def test_a_header_only_csv_is_refused_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text('"customer_id","signup_ts","account_state"\n')
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh, pytest.raises(DataContractError) as e:
        load_sources(wh, {CUSTOMERS: path})
    assert "has a header but no rows" in e.value.what and e.value.fix
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh:
        assert not wh.exists(CUSTOMERS)


def test_ids_in_a_csv_are_text_not_numbers(tmp_path: Path) -> None:
    """Numeric-looking ids keep their leading zeros (customers `007` and `7` are two customers), an empty id is
    a missing one (quarantined), and an id with a byte that is not UTF-8 is quarantined like any such value."""
    from riskops.data.contract import Mapping
    from riskops.data.sources import id_columns, read_source

    customers = [{**c, "customer_id": cid} for c, cid in zip(GOOD_CUSTOMERS, ["007", "7", "0042"], strict=True)]
    rows = [tx(f"0{i}", c["customer_id"]) for i, c in enumerate(customers)] + [tx("x2", "MARK")]
    rows += [tx(f"y{i}", "7") for i in range(30)]  # the one bad row stays under the quarantine limit
    transactions = _csv(tmp_path / "tx.csv", rows, (b"MARK", b"\xff7"))
    table = read_source(CUSTOMERS, _csv(tmp_path / "c.csv", customers), id_columns(Mapping(), "customers"))
    assert isinstance(table, pa.Table) and table.column("customer_id").to_pylist() == ["007", "7", "0042"]
    wh = DuckDBWarehouse(tmp_path / "w.duckdb")
    m = Mapping()
    load_sources(
        wh,
        {CUSTOMERS: tmp_path / "c.csv", TRANSACTIONS: transactions},
        {CUSTOMERS: id_columns(m, "customers"), TRANSACTIONS: id_columns(m, "transactions")},
    )
    report = ingest_cohort(wh, "labelled", AS_OF, LocalStore(tmp_path / "s"), "r", now=NOW)
    with wh:
        ids = wh.query("SELECT customer_id, transaction_id FROM labelled_transactions ORDER BY 2 LIMIT 3").to_pylist()
        assert ids == [
            {"customer_id": "007", "transaction_id": "00"},
            {"customer_id": "7", "transaction_id": "01"},
            {"customer_id": "0042", "transaction_id": "02"},
        ]
        assert report.transactions.by_reason == {"bad_encoding": 1}
