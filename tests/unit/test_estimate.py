"""The cost estimate's arithmetic (issue: scale): each task's price from its hours and resources, BigQuery's
bytes from rows and columns with its per-table minimum and its free tebibyte, training minutes from the
measured fit time; the price file checked like every configuration file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.estimate import (
    FIT_S_PER_100K,
    MIB,
    STARTUP_MIN,
    TIB,
    TRANSACTION_BYTES,
    Task,
    _scan,
    describe,
    estimate,
    load_prices,
)
from pipelines.sizing import Resources
from riskops.core.errors import ConfigError

PRICES = load_prices()


def test_a_task_costs_its_hours_times_its_cores_and_memory() -> None:
    task = Task("train", 2, 30.0, Resources("4", "16G"))  # two runs of half an hour: one hour
    assert task.hours() == 1.0
    assert task.cost(PRICES) == pytest.approx(4 * PRICES.vcpu_hour + 16 * PRICES.gib_hour)


def test_bytes_scanned_follow_rows_and_columns_with_bigquerys_minimum() -> None:
    assert _scan(1_000_000, TRANSACTION_BYTES, PRICES) == 1_000_000 * TRANSACTION_BYTES
    assert _scan(10, TRANSACTION_BYTES, PRICES) == PRICES.bigquery_min_mib_per_table * MIB  # a tiny table
    small, big = estimate(10_000_000, 10**9, prices=PRICES), estimate(10_000_000, 2 * 10**9, prices=PRICES)
    tx_queries = "features (clean transactions)"
    small_tx = small.runs[1].queries[tx_queries]
    assert big.runs[1].queries[tx_queries] == pytest.approx(2 * small_tx, rel=0.02)  # customers' share is small


def test_a_month_takes_the_free_tebibyte_off_once_and_adds_up() -> None:
    e = estimate(10_000_000, 1_500_000_000, prices=PRICES)
    m = e.monthly()
    runs = {r.name: r for r in e.runs}
    assert runs["training (weekly)"].per_month == pytest.approx(52 / 12)
    assert runs["scoring (daily)"].per_month == pytest.approx(365 / 12)
    scanned = sum(r.scanned_bytes * r.per_month for r in e.runs) / TIB
    assert m["scanned TiB"] == pytest.approx(scanned)
    assert m["BigQuery scanning"] == pytest.approx((scanned - 1) * PRICES.bigquery_per_tib_scanned)
    assert m["total"] == pytest.approx(m["pipeline tasks"] + m["BigQuery scanning"] + m["BigQuery storage"])
    assert estimate(20_000, 2_000_000, prices=PRICES).monthly()["BigQuery scanning"] == 0.0  # inside the free tier


def test_training_minutes_come_from_the_measured_fit_time_and_the_tasks_cores() -> None:
    e = estimate(10_000_000, 1_500_000_000, prices=PRICES)  # the large tier: train on 16 cores
    train = next(t for t in e.runs[0].tasks if t.name == "train")
    labelled = 8_000_000
    assert train.resources.cpu == "16"
    assert train.minutes == pytest.approx(STARTUP_MIN + 20 * FIT_S_PER_100K * labelled / 100_000 * 2 / 16 / 60)
    shards = next(t for t in e.runs[1].tasks if t.name == "score_shard")
    assert shards.count == 10  # one scoring task per million customers
    text = describe(e)
    assert "a month:" in text and "train" in text and "prices noted 2026-12-07" in text


def test_a_price_file_is_checked(tmp_path: Path) -> None:
    bad = tmp_path / "prices.yaml"
    bad.write_text((Path(__file__).parents[2] / "configs" / "gcp-prices.yaml").read_text() + "vcpu_hours: 1\n")
    with pytest.raises(ConfigError, match="vcpu_hours"):
        load_prices(bad)
    with pytest.raises(ValueError, match="labelled share"):
        estimate(100, 1000, labelled_share=1.0, prices=PRICES)
