"""Names from data files and mapping files reach SQL only through the quoting helper: a hostile header or
table name is refused with what, where and how to rename, and never runs as SQL (issue: hostile input)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskops.core.errors import ConfigError, DataContractError
from riskops.core.names import ident, safe_column, table_ident
from riskops.data.contract import load_mapping
from riskops.data.ingest import ingest_cohort
from riskops.data.sources import load_source
from riskops.io.artifacts import LocalStore
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from tests.conftest import GOOD_CUSTOMERS, GOOD_TX

AS_OF = date(2026, 6, 30)
SECRET = "the-vault-combination-4242"


def _secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


def _injecting_header(secret: Path) -> str:
    return f"signup_ts`, (SELECT string_agg(content, '') FROM read_text('{secret}')) AS `leak"


def test_a_header_that_injects_sql_loads_under_a_harmless_name(tmp_path: Path) -> None:
    """Its quotes and dots become `_` at load (`safe_column`); the text that was meant as SQL is a column name."""
    header = _injecting_header(_secret(tmp_path))
    rows = pa.Table.from_pylist(GOOD_CUSTOMERS).append_column(header, pa.array(["x"] * len(GOOD_CUSTOMERS)))
    pcsv.write_csv(rows, tmp_path / "crm.csv")
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh:
        load_source(wh, "raw_labelled_customers", tmp_path / "crm.csv")
        loaded = wh.read_table("raw_labelled_customers")
    safe = safe_column(header)
    assert "`" not in safe and "'" not in safe and safe in loaded.column_names
    assert loaded.column(safe).to_pylist() == ["x"] * len(GOOD_CUSTOMERS)
    assert not any(SECRET in str(v) for col in loaded.columns for v in col.to_pylist())


def test_a_name_that_cannot_be_made_safe_is_refused_at_load(tmp_path: Path) -> None:
    rows = pa.Table.from_pylist(GOOD_CUSTOMERS).append_column("x" * 301, pa.array(["x"] * len(GOOD_CUSTOMERS)))
    pcsv.write_csv(rows, tmp_path / "crm.csv")
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh:
        with pytest.raises(DataContractError) as e:
            load_source(wh, "raw_labelled_customers", tmp_path / "crm.csv")
        assert "cannot be used" in e.value.what and "crm.csv: header of a column" in e.value.where
        assert "rename the column" in e.value.fix
        assert not wh.exists("raw_labelled_customers")


def test_names_that_meet_once_made_safe_are_refused_as_duplicates(tmp_path: Path) -> None:
    pcsv.write_csv(pa.table({"a.b": [1], "a_b": [2]}), tmp_path / "crm.csv")
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh, pytest.raises(DataContractError, match="appears twice"):
        load_source(wh, "raw_labelled_customers", tmp_path / "crm.csv")


def test_a_hostile_column_already_in_the_warehouse_is_refused_at_ingest(tmp_path: Path) -> None:
    """Raw tables written by the bank's own jobs are checked too, before any SQL is built from them."""
    header = _injecting_header(_secret(tmp_path))
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh:
        customers = pa.Table.from_pylist(GOOD_CUSTOMERS)
        wh.load("raw_labelled_customers", customers.append_column(header, pa.array(["x"] * customers.num_rows)))
        wh.load("raw_labelled_transactions", pa.Table.from_pylist(GOOD_TX))
        with pytest.raises(DataContractError) as e:
            ingest_cohort(wh, "labelled", AS_OF, LocalStore(tmp_path / "s"), "r")
        assert repr(header) in e.value.what and "raw_labelled_customers" in e.value.where
        assert not wh.exists("labelled_customers")


def test_a_mapping_whose_table_name_injects_sql_is_refused(tmp_path: Path) -> None:
    (tmp_path / "mapping.yaml").write_text(
        "cohorts:\n  labelled:\n"
        "    customers: 'evil\" AS SELECT 1 AS x; DROP TABLE victim; CREATE TABLE \"z'\n"
        "    transactions: ledger\n"
    )
    with pytest.raises(ConfigError) as e:
        load_mapping(tmp_path / "mapping.yaml")
    assert "table name" in str(e.value) and "letters, digits and underscores" in str(e.value)
    (tmp_path / "odd.yaml").write_text("customers:\n  columns: {customer_id: 'id`; DROP TABLE x; --'}\n")
    assert load_mapping(tmp_path / "odd.yaml").source_column("customers", "customer_id") == "id_; DROP TABLE x; --"
    (tmp_path / "bad_column.yaml").write_text(f"customers:\n  columns: {{customer_id: '{'x' * 301}'}}\n")
    with pytest.raises(ConfigError, match="cannot be used"):
        load_mapping(tmp_path / "bad_column.yaml")


def test_the_warehouse_refuses_a_table_name_it_cannot_quote(tmp_path: Path) -> None:
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh:
        wh.load("victim", pa.table({"x": [1]}))
        with pytest.raises(DataContractError, match="table name"):
            wh.load('evil" AS SELECT 1 AS x; DROP TABLE victim; CREATE TABLE "z', pa.table({"x": [1]}))
        assert wh.exists("victim")


def test_quoting_is_sqlglots_for_each_dialect() -> None:
    assert ident("default next month") == "`default next month`"
    assert ident("a b", "duckdb") == '"a b"'
    assert table_ident("raw_labelled_customers", "duckdb") == '"raw_labelled_customers"'


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(min_size=1, max_size=40))
def test_any_header_either_loads_under_its_safe_name_or_is_refused_by_name(name: str, tmp_path: Path) -> None:
    """Arbitrary header text on an extra customer column, through load and ingest on DuckDB: the clean table
    then holds that column under its safe name (`safe_column`, the name itself when it has nothing to replace)
    with its values, or the name is refused with a specific error; no other statement runs, no file is read."""
    secret = _secret(tmp_path)
    reserved = {c for row in GOOD_CUSTOMERS for c in row}
    if safe_column(name).lower() in {c.lower() for c in reserved} or name.strip() != name:
        return  # contract columns and edge-blank names are other checks' business
    customers = pa.Table.from_pylist(GOOD_CUSTOMERS).append_column(name, pa.array([str(secret)] * 3))
    path = tmp_path / f"c{abs(hash(name))}.parquet"
    import pyarrow.parquet as pq

    pq.write_table(customers, path)
    with DuckDBWarehouse(":memory:") as wh:
        try:
            load_source(wh, "raw_labelled_customers", path)
        except DataContractError as e:
            assert repr(name) in e.what and "header of a column" in e.where
            return
        wh.load("raw_labelled_transactions", pa.Table.from_pylist(GOOD_TX))
        try:
            ingest_cohort(wh, "labelled", AS_OF, LocalStore(tmp_path / "s"), "r")
        except DataContractError as e:
            assert safe_column(name) in e.what or repr(safe_column(name)) in e.what, e
            return
        clean = wh.read_table("labelled_customers")
        assert safe_column(name) in clean.column_names
        assert set(clean.column(safe_column(name)).to_pylist()) == {str(secret)}
        assert not any(SECRET in str(v) for col in clean.columns for v in col.to_pylist())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40),
    number=st.floats(allow_nan=False, allow_infinity=False),
)
def test_a_constant_from_configuration_reaches_sql_as_a_literal_and_nothing_else(text: str, number: float) -> None:
    """Any text (quotes, backslashes, `--`) and any finite number come back from the warehouse unchanged;
    infinity, which once reached SQL as the name `inf`, is refused."""
    from riskops.core.names import literal

    with DuckDBWarehouse(":memory:") as wh:
        row = wh.query(f"SELECT {literal(text)} AS t, {literal(number)} AS n").to_pylist()[0]
    assert row["t"] == text and float(row["n"]) == number
    with pytest.raises(DataContractError, match="finite"):
        literal(float("inf"))


def test_a_mapping_default_cannot_end_its_literal(tmp_path: Path) -> None:
    """A default for an absent column was quoted by hand (quotes escaped, backslashes not): `\\'` ended it."""
    hostile = "x\\' , (SELECT 1) AS `leak` --"
    mapping = tmp_path / "m.yaml"
    mapping.write_text(f'transactions:\n  defaults: {{status: "{hostile.replace(chr(92), chr(92) * 2)}"}}\n')
    m = load_mapping(mapping)
    assert m.transactions.defaults["status"] == hostile
    rows = [{k: v for k, v in t.items() if k != "status"} for t in GOOD_TX]
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh:
        pcsv.write_csv(pa.Table.from_pylist(GOOD_CUSTOMERS), tmp_path / "c.csv")
        pcsv.write_csv(pa.Table.from_pylist(rows), tmp_path / "t.csv")
        load_source(wh, "raw_labelled_customers", tmp_path / "c.csv")
        load_source(wh, "raw_labelled_transactions", tmp_path / "t.csv")
        ingest_cohort(wh, "labelled", AS_OF, LocalStore(tmp_path / "s"), "r", m)
        assert "leak" not in wh.columns("labelled_transactions")
        statuses = {r["status"] for r in wh.read_table("labelled_transactions", ["status"]).to_pylist()}
        assert statuses == {hostile.lower()}  # statuses are lower case
