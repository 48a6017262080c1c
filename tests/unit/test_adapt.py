"""Features fitted to the book: types and windows read off the labelled transactions in the warehouse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from riskops.features.adapt import adapt
from riskops.features.engineering import FeatureConfig, FeatureSet
from riskops.io.warehouse.duckdb import DuckDBWarehouse

CUTOFF = datetime(2026, 7, 1, tzinfo=UTC)


def _monthly_book(customers: int = 50, months: int = 12) -> pa.Table:
    """A credit book: one bill and one repayment a month per customer, a rare fee, an odd type name."""
    rows = []
    for c in range(customers):
        for m in range(months):
            when = CUTOFF - timedelta(days=30 * m + 3)
            rows += [
                {"customer_id": f"c{c}", "ts": when, "type": "bill", "amount": 900.0, "currency": None},
                {
                    "customer_id": f"c{c}",
                    "ts": when + timedelta(days=1),
                    "type": "payment",
                    "amount": 850.0,
                    "currency": None,
                },
            ]
    rows += [{"customer_id": "c0", "ts": CUTOFF - timedelta(days=5), "type": "fee", "amount": 5.0, "currency": None}]
    rows += [
        {
            "customer_id": f"c{c}",
            "ts": CUTOFF - timedelta(days=9),
            "type": "Late Fee!",
            "amount": 35.0,
            "currency": None,
        }
        for c in range(30)
    ]
    return pa.Table.from_pylist(rows)


def test_a_monthly_book_gets_its_own_types_and_no_window_shorter_than_its_cadence() -> None:
    with DuckDBWarehouse(":memory:") as wh:
        wh.load("labelled_transactions", _monthly_book())
        adapted = adapt(wh, "labelled", CUTOFF)
    c = adapted.config
    assert c.types == ("bill", "payment", "Late Fee!")  # the fee is too rare; a bank's own type name is kept
    assert c.currency is None  # the book has no currency column filled
    assert 7 not in c.windows and {30, 90, 365} <= set(c.windows)  # 365 is the long window the ratios compare
    assert set(c.type_windows) <= set(c.windows)
    notes = " ".join(adapted.notes)
    assert "types without features of their own (rare" in notes and "fee" in notes and "left out 7d" in notes
    fs = FeatureSet(c, {})
    names = fs.names
    assert "type_payment_sum_30d" in names and not any(n.startswith("type_card") or "_7d" in n for n in names)
    assert "type_late_fee_count_365d" in names  # named safely, compared with the data's own value
    words = {f.name: f.definition for f in fs.features()}
    assert words["type_late_fee_count_365d"] == "count of Late Fee! transactions in the last 365 days"


def test_transaction_types_in_any_script_get_safe_feature_names() -> None:
    from riskops.features.engineering import type_slug

    assert type_slug("Überweisung") == "uberweisung" and type_slug("Card Payment") == "card_payment"
    assert type_slug("振込").startswith("t") and len(type_slug("振込")) == 9  # no Latin letter: a short digest
    assert type_slug("3DS").startswith("t") and type_slug("3DS").endswith("_3ds")  # a name starts with a letter


def test_a_busy_long_book_keeps_the_default_windows() -> None:
    rows = [
        {
            "customer_id": f"c{c}",
            "ts": CUTOFF - timedelta(hours=6 * i),
            "type": "card",
            "amount": 10.0,
            "currency": "TWD" if i % 3 else "USD",
        }
        for c in range(5)
        for i in range(1500)  # four a day for a year and more
    ]
    with DuckDBWarehouse(":memory:") as wh:
        wh.load("labelled_transactions", pa.Table.from_pylist(rows))
        adapted = adapt(wh, "labelled", CUTOFF)
    assert adapted.config.windows == FeatureConfig().windows and adapted.config.types == ("card",)
    assert adapted.config.currency == "TWD" and "main currency TWD" in adapted.notes[0]
    # The reporting threshold and the micro-transfer amount are EUR amounts: nothing is built on them here.
    names = FeatureSet(adapted.config, {}).names
    assert not [n for n in names if n.startswith(("near_threshold", "small_amount"))]
    assert any("no near-threshold or micro-transfer features" in n and "in TWD" in n for n in adapted.notes)
    before = FeatureConfig(currency="TWD")  # a model trained before the thresholds' currency was recorded
    assert "near_threshold_count_90d" in FeatureSet(before, {}).names


def test_no_transactions_means_no_type_features() -> None:
    empty = _monthly_book().slice(0, 0)
    with DuckDBWarehouse(":memory:") as wh:
        wh.load("labelled_transactions", empty)
        adapted = adapt(wh, "labelled", CUTOFF)
    assert adapted.config.types == () and "no transactions" in adapted.notes[0]


@pytest.mark.parametrize("currency", ["EUR", "TWD"])
def test_batch_and_online_agree_on_the_features_fitted_to_a_book(currency: str) -> None:
    from riskops.features.engineering import feature_sql, online_features
    from tests.unit.test_features import _same

    book = _monthly_book(customers=8).to_pylist()
    for i, r in enumerate(book):
        r |= {
            "direction": "out" if r["type"] == "payment" else "in",
            "counterparty_id": f"p{i % 5}",
            "country": "DE",
            "status": "completed",
            "currency": currency,
        }
    customers = [
        {"customer_id": f"c{c}", "signup_ts": CUTOFF - timedelta(days=900), "limit": 5000.0 * (c + 1)} for c in range(8)
    ]
    with DuckDBWarehouse(":memory:") as wh:
        wh.load("labelled_customers", pa.Table.from_pylist(customers))
        wh.load("labelled_transactions", pa.Table.from_pylist(book))
        fs = FeatureSet(adapt(wh, "labelled", CUTOFF).config, {"limit": "numeric"})
        sql = feature_sql(fs, wh.ref("labelled_customers"), wh.ref("labelled_transactions"), CUTOFF, labelled=False)
        rows = wh.query(sql).to_pylist()
    assert len(rows) == 8 and 7 not in fs.config.windows
    assert ("near_threshold_count_90d" in fs.names) == (currency == "EUR")
    for row in rows:
        online = online_features(
            fs,
            next(c for c in customers if c["customer_id"] == row["customer_id"]),
            [t for t in book if t["customer_id"] == row["customer_id"]],
            CUTOFF,
        )
        assert [n for n in fs.names if not _same(row[n], online[n])] == [], row["customer_id"]


def test_features_constant_over_the_book_are_not_generated_and_batch_and_online_still_agree() -> None:
    from riskops.features.engineering import build_features, omit_constant, online_features, read_features
    from tests.unit.test_features import _same

    book = _monthly_book(customers=8).to_pylist()
    for i, r in enumerate(book):
        r |= {
            "direction": "out" if r["type"] == "payment" else "in",
            "counterparty_id": f"p{i % 5}",
            "country": "DE",
            "status": "completed",
            "currency": "EUR",
        }
    customers = [
        {
            "customer_id": f"c{c}",
            "signup_ts": CUTOFF - timedelta(days=900),
            "limit": 5000.0 * (c + 1),
            "account_state": "SUSPENDED" if c % 4 == 0 else "ACTIVE",
        }
        for c in range(8)
    ]
    with DuckDBWarehouse(":memory:") as wh:
        wh.load("labelled_customers", pa.Table.from_pylist(customers))
        wh.load("labelled_transactions", pa.Table.from_pylist(book))
        everything = build_features(wh, "labelled", CUTOFF, adapt(wh, "labelled", CUTOFF).config)
        fs, constant = omit_constant(wh, "labelled", everything)
        rows = read_features(wh, "labelled").to_dict("records")
        columns = set(wh.columns("labelled_features"))
    # Every transaction is completed and in DE: failed, disputed and high-risk counts say nothing here.
    assert {"failed_count_365d", "chargeback_reversed_count_365d", "high_risk_out_count_365d"} <= set(constant)
    assert not set(constant) & set(fs.names) and fs.config.omit == tuple(constant)
    assert columns == {"customer_id", "label", *fs.names}
    kept = [n for n in fs.names if n not in ("limit",)]
    assert all(len({repr(r[n]) for r in rows}) > 1 for n in kept), "a kept feature is constant"
    for row in rows:
        customer = next(c for c in customers if c["customer_id"] == row["customer_id"])
        online = online_features(fs, customer, [t for t in book if t["customer_id"] == row["customer_id"]], CUTOFF)
        assert list(online) == fs.names and [n for n in fs.names if not _same(row[n], online[n])] == []
