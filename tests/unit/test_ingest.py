"""Every bad-input case of the ingest step shows its quarantine reason or its error message."""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa
import pytest

from riskops.core.errors import DataContractError, RiskOpsError, UnusableDataError
from riskops.data.contract import Mapping
from riskops.data.ingest import ValidationReport, ingest_cohort
from riskops.io.artifacts import LocalStore
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from tests.conftest import AS_OF, GOOD_CUSTOMERS, GOOD_TX, NOW, ts, tx

LENIENT = Mapping(max_quarantine_share=1.0)


def ingest(
    wh: DuckDBWarehouse,
    store: LocalStore,
    customers: list[dict[str, Any]] | pa.Table,
    transactions: list[dict[str, Any]] | pa.Table,
    mapping: Mapping = LENIENT,
    cohort: str = "labelled",
) -> ValidationReport:
    for name, rows in (("customers", customers), ("transactions", transactions)):
        table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows)
        wh.load(mapping.cohorts[cohort].__dict__[name], table)  # type: ignore[index]
    return ingest_cohort(wh, cohort, AS_OF, store, "run/validation", mapping, now=NOW)  # type: ignore[arg-type]


def reasons(wh: DuckDBWarehouse, table: str, key: str) -> dict[str, str]:
    rows = wh.read_table(table).to_pylist()
    return {str(r[key]): r["quarantine_reason"] for r in rows}


def test_clean_data_passes_typed_and_complete(duck: DuckDBWarehouse, store: LocalStore) -> None:
    report = ingest(duck, store, GOOD_CUSTOMERS, GOOD_TX)
    assert report.status == "ok"
    assert report.customers.rows_clean == 3 and report.transactions.rows_clean == 30
    assert report.labels == {"ACTIVE": 2, "SUSPENDED": 1}
    cols = duck.columns("labelled_transactions")
    assert cols["ts"] == "TIMESTAMP" and cols["amount"] == "FLOAT64" and cols["customer_id"] == "STRING"
    assert duck.columns("labelled_customers")["age"] == "INT64"  # attributes are kept
    saved = json.loads(store.read_text("run/validation/report.json"))
    assert saved["status"] == "ok" and saved["snapshot"]["transactions"] == 30
    assert "30 in, 30 clean, 0 quarantined" in store.read_text("run/validation/summary.md")


CUSTOMER_CASES = [
    ({"customer_id": None}, "missing_customer_id"),
    ({"customer_id": "   "}, "missing_customer_id"),
    ({"signup_ts": None}, "missing_signup_ts"),
    ({"signup_ts": ts("2027-01-01")}, "signup_in_future"),
    ({"signup_ts": ts("2026-07-01")}, "signup_after_as_of"),
    ({"account_state": None}, "missing_label"),
    ({"account_state": "CLOSED"}, "unknown_label"),
]


@pytest.mark.parametrize(("change", "reason"), CUSTOMER_CASES)
def test_bad_customer_rows_are_quarantined_with_reason(
    duck: DuckDBWarehouse, store: LocalStore, change: dict[str, Any], reason: str
) -> None:
    bad = {"customer_id": "bad", "signup_ts": ts("2025-01-01"), "account_state": "ACTIVE", "age": 1} | change
    report = ingest(duck, store, [*GOOD_CUSTOMERS, bad], GOOD_TX)
    assert report.customers.by_reason == {reason: 1}
    q = duck.read_table("labelled_quarantine_customers").to_pylist()
    assert q[0]["quarantine_reason"] == reason and q[0]["age"] == 1  # the original row is kept
    assert report.customers.rows_clean == 3


def test_duplicate_customers_quarantine_every_copy_and_their_transactions(
    duck: DuckDBWarehouse, store: LocalStore
) -> None:
    dup = dict(GOOD_CUSTOMERS[0]) | {"age": 99}
    report = ingest(duck, store, [*GOOD_CUSTOMERS, dup], GOOD_TX)
    assert report.customers.by_reason == {"duplicate_customer_id": 2}
    assert report.transactions.by_reason == {"customer_quarantined": 10}


def test_unparseable_signup_ts_is_a_bad_type(duck: DuckDBWarehouse, store: LocalStore) -> None:
    rows = [dict(c, signup_ts=c["signup_ts"].isoformat()) for c in GOOD_CUSTOMERS]
    rows.append({"customer_id": "x", "signup_ts": "last tuesday", "account_state": "ACTIVE", "age": 3})
    report = ingest(duck, store, rows, GOOD_TX)
    assert report.customers.by_reason == {"bad_type:signup_ts": 1}


TX_CASES = [
    (tx("bad", "c1", transaction_id=None), "missing_transaction_id"),
    (tx("bad", None), "missing_customer_id"),  # type: ignore[arg-type]
    (tx("bad", "nobody"), "unknown_customer"),
    (tx("bad", "c1", ts=None), "missing_ts"),
    (tx("bad", "c1", when="2027-02-01"), "ts_in_future"),
    (tx("bad", "c1", when="2026-07-01"), "ts_after_as_of"),
    (tx("bad", "c1", amount=None), "missing_amount"),
    (tx("bad", "c1", amount=float("nan")), "amount_nan"),
    (tx("bad", "c1", amount=-5.0), "negative_amount"),
    (tx("bad", "c1", amount=1e12), "absurd_amount"),
    (tx("bad", "c1", amount=float("inf")), "absurd_amount"),
    (tx("bad", "c1", direction="sideways"), "unknown_direction"),
    (tx("bad", "c1", direction=None), "unknown_direction"),
    (tx("bad", "c1", currency="XYZ"), "unknown_currency"),
]


@pytest.mark.parametrize(("row", "reason"), TX_CASES, ids=[c[1] + str(i) for i, c in enumerate(TX_CASES)])
def test_bad_transaction_rows_are_quarantined_with_reason(
    duck: DuckDBWarehouse, store: LocalStore, row: dict[str, Any], reason: str
) -> None:
    report = ingest(duck, store, GOOD_CUSTOMERS, [*GOOD_TX, row])
    assert report.transactions.by_reason == {reason: 1}
    assert report.transactions.rows_clean == 30
    assert report.transactions.examples[0]["quarantine_reason"] == reason


def test_the_last_instant_of_as_of_day_is_in(duck: DuckDBWarehouse, store: LocalStore) -> None:
    report = ingest(duck, store, GOOD_CUSTOMERS, [*GOOD_TX, tx("edge", "c1", when="2026-06-30T23:59:59.999999")])
    assert report.transactions.rows_clean == 31


def test_duplicate_transactions_quarantine_every_copy(duck: DuckDBWarehouse, store: LocalStore) -> None:
    report = ingest(duck, store, GOOD_CUSTOMERS, [*GOOD_TX, tx("t0", "c1", amount=99.0)])
    assert report.transactions.by_reason == {"duplicate_transaction_id": 2}


def test_string_amounts_and_timestamps_are_parsed_or_quarantined(duck: DuckDBWarehouse, store: LocalStore) -> None:
    rows = [dict(r, amount=str(r["amount"]), ts=r["ts"].isoformat()) for r in GOOD_TX]
    rows += [dict(tx("a", "c1"), amount="12,50", ts="2026-01-01"), dict(tx("b", "c1"), amount="1", ts="soon")]
    report = ingest(duck, store, GOOD_CUSTOMERS, rows)
    assert report.transactions.rows_clean == 30
    assert reasons(duck, "labelled_quarantine_transactions", "transaction_id") == {
        "a": "bad_type:amount",
        "b": "bad_type:ts",
    }


def test_missing_required_column_stops_with_what_where_and_fix(duck: DuckDBWarehouse, store: LocalStore) -> None:
    rows = [{k: v for k, v in r.items() if k != "amount"} for r in GOOD_TX]
    with pytest.raises(DataContractError) as e:
        ingest(duck, store, GOOD_CUSTOMERS, rows)
    msg = str(e.value)
    assert "required columns missing: amount" in msg
    assert "raw_labelled_transactions" in msg and "mapping file" in msg


def test_labelled_cohort_requires_account_state(duck: DuckDBWarehouse, store: LocalStore) -> None:
    rows = [{k: v for k, v in r.items() if k != "account_state"} for r in GOOD_CUSTOMERS]
    with pytest.raises(DataContractError, match="account_state"):
        ingest(duck, store, rows, GOOD_TX)


def test_unlabelled_cohort_needs_no_label(duck: DuckDBWarehouse, store: LocalStore) -> None:
    rows = [{k: v for k, v in r.items() if k != "account_state"} for r in GOOD_CUSTOMERS]
    report = ingest(duck, store, rows, GOOD_TX, cohort="unlabelled")
    assert report.status == "ok" and report.labels == {}
    assert "account_state" not in duck.columns("unlabelled_customers")


def test_wrong_column_type_stops(duck: DuckDBWarehouse, store: LocalStore) -> None:
    rows = [dict(r, ts=1_700_000_000 + i) for i, r in enumerate(GOOD_TX)]
    with pytest.raises(DataContractError) as e:
        ingest(duck, store, GOOD_CUSTOMERS, rows)
    assert "ts is INT64 but ts must be TIMESTAMP" in str(e.value)


def test_missing_source_table(duck: DuckDBWarehouse, store: LocalStore) -> None:
    with pytest.raises(DataContractError, match="raw_labelled_customers for customers does not exist"):
        ingest_cohort(duck, "labelled", AS_OF, store, "r", now=NOW)


def test_empty_cohort_stops_and_still_writes_the_report(duck: DuckDBWarehouse, store: LocalStore) -> None:
    empty_c = pa.Table.from_pylist(GOOD_CUSTOMERS).slice(0, 0)
    with pytest.raises(UnusableDataError) as e:
        ingest(duck, store, empty_c, GOOD_TX)
    assert "no usable customers" in str(e.value) and "the source table is empty" in str(e.value)
    report = json.loads(store.read_text("run/validation/report.json"))
    assert report["status"] == "failed"
    assert not duck.exists("labelled_customers")  # no half-usable output left behind


def test_all_rows_quarantined_is_an_empty_cohort(duck: DuckDBWarehouse, store: LocalStore) -> None:
    rows = [dict(r, signup_ts=ts("2026-08-01")) for r in GOOD_CUSTOMERS]
    with pytest.raises(UnusableDataError, match="all 3 rows were quarantined"):
        ingest(duck, store, rows, GOOD_TX)


def test_single_class_stops(duck: DuckDBWarehouse, store: LocalStore) -> None:
    rows = [dict(r, account_state="ACTIVE") for r in GOOD_CUSTOMERS]
    with pytest.raises(UnusableDataError) as e:
        ingest(duck, store, rows, GOOD_TX)
    assert "single class (ACTIVE)" in str(e.value)
    assert "report.json" in str(e.value)


def test_too_much_quarantined_stops_with_the_main_reason(duck: DuckDBWarehouse, store: LocalStore) -> None:
    rows = [*GOOD_TX, *[tx(f"n{i}", "c1", amount=-1.0) for i in range(5)]]
    with pytest.raises(UnusableDataError) as e:
        ingest(duck, store, GOOD_CUSTOMERS, rows, mapping=Mapping(max_quarantine_share=0.1))
    assert "14.3% of transactions were quarantined (negative_amount x5)" in str(e.value)


def test_every_transaction_quarantined_names_the_reason_and_the_mapping_key(
    duck: DuckDBWarehouse, store: LocalStore
) -> None:
    rows = [{**t, "direction": "Gutschrift"} for t in GOOD_TX]  # a bank's own word for money in
    with pytest.raises(UnusableDataError) as e:
        ingest(duck, store, GOOD_CUSTOMERS, rows)
    said = str(e.value)
    assert (
        f"all {len(rows)} rows were quarantined: unknown_direction x{len(rows)} (set `directions:` in the mapping"
        in said
    )


def test_as_of_in_the_future_is_refused(duck: DuckDBWarehouse, store: LocalStore) -> None:
    from datetime import date

    with pytest.raises(RiskOpsError, match="in the future"):
        ingest_cohort(duck, "labelled", date(2027, 1, 1), store, "r", now=NOW)


def test_mapping_maps_names_labels_directions_and_defaults(duck: DuckDBWarehouse, store: LocalStore) -> None:
    mapping = Mapping.model_validate(
        {
            "cohorts": {"labelled": {"customers": "crm", "transactions": "ledger"}},
            "customers": {"columns": {"customer_id": "cust_no", "account_state": "state", "signup_ts": "opened"}},
            "transactions": {
                "columns": {"transaction_id": "id", "customer_id": "cust_no", "direction": "dc"},
                "defaults": {"currency": "GBP"},
            },
            "labels": {"ACTIVE": ["open"], "SUSPENDED": ["closed_risk"]},
            "directions": {"in": ["CREDIT"], "out": ["DEBIT"]},
            "max_quarantine_share": 1.0,
        }
    )
    customers = [
        {"cust_no": 1, "opened": ts("2025-01-01"), "state": "Open", "segment": "retail"},
        {"cust_no": 2, "opened": ts("2025-01-01"), "state": "closed_risk", "segment": "sme"},
    ]
    ledger = [
        {"id": 10, "cust_no": 1, "ts": ts("2026-01-01"), "amount": 5.0, "dc": "credit", "memo": "x"},
        {"id": 11, "cust_no": 2, "ts": ts("2026-01-01"), "amount": 6.0, "dc": "DEBIT", "memo": "y"},
    ]
    report = ingest(duck, store, customers, ledger, mapping=mapping)
    assert report.labels == {"ACTIVE": 1, "SUSPENDED": 1}
    clean = {r["transaction_id"]: r for r in duck.read_table("labelled_transactions").to_pylist()}
    assert clean["10"]["direction"] == "in" and clean["11"]["direction"] == "out"
    assert clean["10"]["currency"] == "GBP" and clean["10"]["memo"] == "x"  # default + extra column kept
    assert set(report.transactions.missing_optional) == {"type", "counterparty_id", "country", "status"}
    assert report.customers.extra_columns == ["segment"]


def test_rows_in_always_equal_clean_plus_quarantined(duck: DuckDBWarehouse, store: LocalStore) -> None:
    rows = [*GOOD_TX] + [row for row, _ in TX_CASES]
    report = ingest(duck, store, GOOD_CUSTOMERS, rows)
    t = report.transactions
    assert t.rows_in == len(rows) == t.rows_clean + t.rows_quarantined
    assert sum(t.by_reason.values()) == t.rows_quarantined


def test_rerun_replaces_previous_clean_tables(duck: DuckDBWarehouse, store: LocalStore) -> None:
    ingest(duck, store, GOOD_CUSTOMERS, GOOD_TX)
    with pytest.raises(UnusableDataError):
        ingest(duck, store, [dict(r, account_state="ACTIVE") for r in GOOD_CUSTOMERS], GOOD_TX)
    assert not duck.exists("labelled_transactions")


def test_as_of_today_is_allowed(duck: DuckDBWarehouse, store: LocalStore) -> None:
    for name, rows in (("raw_labelled_customers", GOOD_CUSTOMERS), ("raw_labelled_transactions", GOOD_TX)):
        duck.load(name, pa.Table.from_pylist(rows))
    report = ingest_cohort(duck, "labelled", NOW.date(), store, "r", LENIENT, now=NOW)
    assert report.status == "ok"


def test_attributes_the_mapping_declares_categorical_are_text_in_the_clean_table(
    duck: DuckDBWarehouse, store: LocalStore
) -> None:
    from riskops.features.engineering import attribute_kinds

    coded = [{**c, "sex": 1 + i % 2, "Bildung (Stufe)": 3} for i, c in enumerate(GOOD_CUSTOMERS)]
    mapping = Mapping(max_quarantine_share=1.0, categorical=["sex", "Bildung (Stufe)"])
    ingest(duck, store, coded, GOOD_TX, mapping)
    cols = duck.columns("labelled_customers")
    assert cols["sex"] == cols["Bildung (Stufe)"] == "STRING" and cols["age"] == "INT64"
    kinds = attribute_kinds(cols)
    assert kinds["sex"] == "categorical" and kinds["age"] == "numeric"
    values = {r["customer_id"]: r["sex"] for r in duck.read_table("labelled_customers").to_pylist()}
    assert values == {"c1": "1", "c2": "2", "c3": "1"}  # the code as written, not "1.0"


def test_a_declared_categorical_the_table_lacks_is_an_error_naming_it(duck: DuckDBWarehouse, store: LocalStore) -> None:
    with pytest.raises(DataContractError, match=r"declares roles for \[.gender.\]") as e:
        ingest(duck, store, GOOD_CUSTOMERS, GOOD_TX, Mapping(max_quarantine_share=1.0, categorical=["gender"]))
    assert "its attributes: age" in e.value.what and "`categorical:` / `numeric:`" in e.value.fix


def test_an_attributes_only_cohort_is_usable_and_says_so(duck: DuckDBWarehouse, store: LocalStore) -> None:
    report = ingest(duck, store, GOOD_CUSTOMERS, pa.Table.from_pylist(GOOD_TX).slice(0, 0))
    assert report.status != "failed" and report.customers.rows_clean == 3
    assert any("no transactions in the labelled cohort" in w for w in report.warnings)


def test_transactions_all_quarantined_still_stop_the_run(duck: DuckDBWarehouse, store: LocalStore) -> None:
    with pytest.raises(UnusableDataError, match=r"no usable transactions .* all 30 rows were quarantined"):
        ingest(duck, store, GOOD_CUSTOMERS, [{**t, "amount": -1.0} for t in GOOD_TX])


def test_attributes_declared_numeric_are_cast_and_a_value_that_is_no_number_quarantines_its_row(
    duck: DuckDBWarehouse, store: LocalStore
) -> None:
    texts = ["1000", " 2500.5 ", "n/a"]
    customers = [{**c, "Limit (EUR)": v} for c, v in zip(GOOD_CUSTOMERS, texts, strict=True)]
    customers.append(
        {"customer_id": "c4", "signup_ts": ts("2025-04-01"), "account_state": "ACTIVE", "age": 20, "Limit (EUR)": ""}
    )
    report = ingest(duck, store, customers, GOOD_TX, Mapping(max_quarantine_share=1.0, numeric=["Limit (EUR)"]))
    assert report.customers.by_reason == {"bad_type:Limit (EUR)": 1}
    assert reasons(duck, "labelled_quarantine_customers", "customer_id") == {"c3": "bad_type:Limit (EUR)"}
    assert duck.columns("labelled_customers")["Limit (EUR)"] == "FLOAT64"
    values = {r["customer_id"]: r["Limit (EUR)"] for r in duck.read_table("labelled_customers").to_pylist()}
    assert values == {"c1": 1000.0, "c2": 2500.5, "c4": None}  # a blank is a missing value, not a bad one


def test_an_attribute_cannot_be_both_categorical_and_numeric() -> None:
    with pytest.raises(ValueError, match="declared both categorical and numeric"):
        Mapping(categorical=["x"], numeric=["x"])
