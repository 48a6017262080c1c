"""Batch (warehouse SQL) and online (numpy) features agree for every customer, column by column."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from riskops.data.contract import as_of_cutoff
from riskops.data.synth import synthetic_attribute_kinds
from riskops.features.engineering import (
    DAY_US,
    FeatureConfig,
    FeatureSet,
    attribute_kinds,
    build_features,
    catalogue_markdown,
    feature_sql,
    online_features,
    read_features,
)
from riskops.io.warehouse.duckdb import DuckDBWarehouse

CUTOFF = as_of_cutoff(date(2026, 9, 30))


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("cohort", ["labelled", "unlabelled"])
def test_online_equals_batch_for_every_customer(ingested: DuckDBWarehouse, cohort: str) -> None:
    fs = build_features(ingested, cohort, CUTOFF)
    batch = read_features(ingested, cohort)
    customers = {r["customer_id"]: r for r in ingested.read_table(f"{cohort}_customers").to_pylist()}
    tx: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in ingested.read_table(f"{cohort}_transactions").to_pylist():
        tx[r["customer_id"]].append(r)
    assert len(batch) == len(customers) > 200
    mismatches = []
    for row in batch.to_dict("records"):
        online = online_features(fs, customers[row["customer_id"]], tx[row["customer_id"]], CUTOFF)
        for name in fs.names:
            b = None if isinstance(row[name], float) and math.isnan(row[name]) else row[name]
            if not _same(b, online[name]):
                mismatches.append((row["customer_id"], name, b, online[name]))
    assert mismatches == []
    # The comparison is not vacuous: most features vary across customers.
    varying = [n for n in fs.names if batch[n].nunique(dropna=True) > 1]
    assert len(varying) > 0.8 * len(fs.names)


def _one(cid: str = "c1") -> tuple[dict[str, Any], list[dict[str, Any]]]:
    customer = {"customer_id": cid, "signup_ts": CUTOFF - timedelta(days=400), "declared_income": 12_000.0}

    def t(days: float, amount: float, direction: str, **kw: Any) -> dict[str, Any]:
        return {
            "ts": CUTOFF - timedelta(days=days),
            "amount": amount,
            "direction": direction,
            "type": "transfer",
            "counterparty_id": kw.get("cp", "p1"),
            "country": kw.get("country", "DE"),
            "status": kw.get("status", "completed"),
        }

    txs = [
        t(30, 1000.0, "in"),  # exactly 30 days before: outside the 30-day window
        t(29.5, 900.0, "out", cp="p2", country="NG"),
        t(2, 9500.0, "in", cp="p3"),
        t(1.5, 9000.0, "out", cp="p4", country="AE"),
        t(-1, 5.0, "in"),  # after the cut-off: ignored
    ]
    return customer, txs


def _fs() -> FeatureSet:
    return FeatureSet(FeatureConfig(), {"declared_income": "numeric"})


def test_window_edges_pass_through_and_ratios_by_hand() -> None:
    customer, txs = _one()
    f = online_features(_fs(), customer, txs, CUTOFF)
    assert f["in_count_30d"] == 1 and f["in_count_90d"] == 2
    assert f["out_sum_30d"] == 9900.0 and f["out_in_ratio_30d"] == pytest.approx(9900 / 9500)
    assert f["high_risk_out_count_365d"] == 2 and f["high_risk_out_share_365d"] == 1.0
    assert f["near_threshold_count_365d"] == 2  # 9,500 and 9,000 are within 85-100% of 10,000
    # Days before the cut-off: in 9,500 on day 2, out 9,000 on day 1 (the next day): 9,000 passed through;
    # in 1,000 on day 30, out 900 on day 29 (its next day): 900 passed through.
    assert f["pass_through_2d_90d"] == pytest.approx((9000 + 900) / (9500 + 1000))
    assert f["new_counterparties_30d"] == 3 and f["counterparties_365d"] == 4
    assert f["days_since_last_tx"] == pytest.approx(1.5)
    assert f["tenure_days"] == pytest.approx(400)
    assert f["in_sum_365d_to_income"] == pytest.approx(10500 / 12000)


def test_batch_matches_the_hand_example_too() -> None:
    customer, txs = _one()
    with DuckDBWarehouse(":memory:") as wh:
        wh.load("c", pa.Table.from_pylist([customer]))
        wh.load("t", pa.Table.from_pylist([dict(r, customer_id="c1") for r in txs]))
        fs = _fs()
        row = wh.query(feature_sql(fs, wh.ref("c"), wh.ref("t"), CUTOFF, labelled=False)).to_pylist()[0]
    online = online_features(fs, customer, txs, CUTOFF)
    assert [n for n in fs.names if not _same(row[n], online[n])] == []


def test_a_type_in_the_banks_own_words_gets_features_batch_and_online_alike() -> None:
    customer, txs = _one()
    txs = [dict(t, type="Überweisung") if i % 2 else t for i, t in enumerate(txs)]  # a German bank's transfer
    fs = FeatureSet(
        FeatureConfig(types=("transfer", "Überweisung"), type_windows=(90,)), {"declared_income": "numeric"}
    )
    with DuckDBWarehouse(":memory:") as wh:
        wh.load("c", pa.Table.from_pylist([customer]))
        wh.load("t", pa.Table.from_pylist([dict(r, customer_id="c1") for r in txs]))
        row = wh.query(feature_sql(fs, wh.ref("c"), wh.ref("t"), CUTOFF, labelled=False)).to_pylist()[0]
    online = online_features(fs, customer, txs, CUTOFF)
    assert row["type_uberweisung_count_90d"] == online["type_uberweisung_count_90d"] == 2
    assert row["type_uberweisung_sum_90d"] == 900.0 + 9000.0
    assert [n for n in fs.names if not _same(row[n], online[n])] == []


def test_a_customer_without_transactions_gets_zeros_and_nulls() -> None:
    customer, _ = _one()
    f = online_features(_fs(), customer, [], CUTOFF)
    assert f["in_count_30d"] == 0 and f["out_sum_365d"] == 0
    assert f["out_mean_365d"] is None and f["days_since_last_tx"] is None and f["pass_through_2d_90d"] is None


def test_names_are_unique_and_attributes_typed() -> None:
    fs = FeatureSet(FeatureConfig(), synthetic_attribute_kinds())
    assert len(fs.names) == len(set(fs.names)) > 100
    assert set(fs.categorical) == {"country", "occupation", "kyc_level", "signup_channel", "device_ip_mismatch"}
    kinds = attribute_kinds({"customer_id": "STRING", "age": "INT64", "segment": "STRING", "vip": "BOOL"})
    assert kinds == {"age": "numeric", "segment": "categorical", "vip": "categorical"}


def test_catalogue_in_docs_is_generated_from_the_code() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "features.md"
    fs = FeatureSet(FeatureConfig(), synthetic_attribute_kinds())
    assert doc.read_text() == catalogue_markdown(fs), "run `riskops features catalogue` to refresh docs/features.md"


def test_only_one_row_per_customer_leaves_the_warehouse(ingested: DuckDBWarehouse) -> None:
    build_features(ingested, "labelled", CUTOFF)
    ids = read_features(ingested, "labelled")["customer_id"]
    assert ids.is_unique and len(ids) == ingested.count("labelled_customers")


def test_features_need_ingested_tables() -> None:
    from riskops.core.errors import DataContractError

    with DuckDBWarehouse(":memory:") as wh, pytest.raises(DataContractError, match="run `riskops ingest`"):
        build_features(wh, "labelled", datetime(2026, 1, 1, tzinfo=UTC))


def test_signup_is_required_online() -> None:
    from riskops.core.errors import DataContractError

    with pytest.raises(DataContractError, match="signup_ts"):
        online_features(_fs(), {"customer_id": "x"}, [], CUTOFF)
    assert DAY_US == 86_400 * 10**6
