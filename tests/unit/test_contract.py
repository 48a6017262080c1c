from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from riskops.core.errors import ConfigError
from riskops.data.contract import Mapping, as_of_cutoff, load_mapping


def test_as_of_date_includes_the_whole_day() -> None:
    assert as_of_cutoff(date(2026, 6, 30)) == datetime(2026, 7, 1, tzinfo=UTC)


def test_as_of_naive_datetime_is_utc() -> None:
    assert as_of_cutoff(datetime(2026, 6, 30, 12)) == datetime(2026, 6, 30, 12, tzinfo=UTC)


def test_identity_mapping_by_default() -> None:
    m = load_mapping(None)
    assert m.source_column("transactions", "amount") == "amount"
    assert m.cohorts["labelled"].customers == "raw_labelled_customers"


def test_mapping_file_renames_columns_and_labels(tmp_path: Path) -> None:
    p = tmp_path / "m.yaml"
    p.write_text(
        "cohorts:\n  labelled: {customers: crm, transactions: ledger}\n"
        "customers:\n  columns: {customer_id: cust_no, account_state: status}\n"
        "labels: {ACTIVE: [open], SUSPENDED: [closed_risk, frozen]}\n"
    )
    m = load_mapping(p)
    assert m.source_column("customers", "customer_id") == "cust_no"
    assert m.labels["SUSPENDED"] == ["closed_risk", "frozen"]
    assert m.cohorts["labelled"].transactions == "ledger"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("customers: [unclosed", "not valid YAML"),
        ("customers:\n  columns: {cust: id}\n", "not contract columns"),
        ("labels: {ACTIVE: [a]}\n", "labels must map exactly"),
        ("directions: {in: [c], debit: [d]}\n", "directions must map exactly"),
        ("max_quarantine_share: 2\n", "max_quarantine_share"),
        ("colums: {}\n", "colums"),
        ("directions: {in: [credit, debit], out: [Debit ]}\n", "directions: ['debit'] are mapped more than once"),
        ("labels: {ACTIVE: [open, x], SUSPENDED: [X]}\n", "labels: ['x'] are mapped more than once"),
        ("descriptions: {a.b: one, a_b: two}\n", "'a.b' and 'a_b' both describe the column 'a_b'"),  # one was lost
        ("max_amount: .inf\n", "max_amount"),  # reached SQL as text
        ("currencies: []\n", "currencies is empty"),  # silently meant every currency
        ("max_amount: 5\nmax_amount: 6\n", "'max_amount' is given twice"),  # the last won silently
    ],
)
def test_bad_mapping_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "m.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_mapping(p)
    assert message in str(e.value)
    assert str(p) in str(e.value)


def test_missing_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_mapping(tmp_path / "nope.yaml")


def test_allowed_currencies_default_iso() -> None:
    assert "EUR" in Mapping().allowed_currencies()
    assert "XXQ" not in Mapping().allowed_currencies()
    assert Mapping(currencies=["eur"]).allowed_currencies() == {"EUR"}
