"""Scoring a cohort with the champion: segments, rules, the off-boarding policy and reasons in words."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskops.artifacts import LocalStore
from riskops.errors import RiskOpsError
from riskops.evaluate import CostMatrix
from riskops.modeling import train_and_register
from riskops.offboard import OffboardConfig, Rule, _fmt, score_cohort
from riskops.run_report import compare_runs, list_runs
from riskops.train import TrainConfig
from riskops.warehouse.duckdb import DuckDBWarehouse

FAST = TrainConfig(folds=3, tuning_trials=0, max_iterations=60, seed=1, baselines=False, imbalance="none")
AS_OF = date(2026, 9, 30)


@pytest.fixture(scope="module")
def store(ingested: DuckDBWarehouse, tmp_path_factory: pytest.TempPathFactory) -> LocalStore:
    s = LocalStore(tmp_path_factory.mktemp("offboard"))
    train_and_register(ingested, s, AS_OF, FAST, CostMatrix())
    return s


def test_no_champion_tells_the_user_to_train_first(ingested: DuckDBWarehouse, tmp_path: Path) -> None:
    with pytest.raises(RiskOpsError) as e:
        score_cohort(ingested, LocalStore(tmp_path), AS_OF)
    assert "no champion model" in str(e.value) and "train one first" in str(e.value)


def test_segments_policy_and_reasons(ingested: DuckDBWarehouse, store: LocalStore) -> None:
    cfg = OffboardConfig(medium_factor=0.3)
    r = score_cohort(ingested, store, AS_OF, "unlabelled", cfg)
    s = r.scores
    assert len(s) == ingested.count("unlabelled_customers") and s["customer_id"].is_unique
    high, medium = r.cutoffs["high"], r.cutoffs["medium"]
    assert medium == pytest.approx(0.3 * high)
    assert (s.loc[s["score"] >= high, "segment"] == "High").all()
    assert (s.loc[s["score"] < medium, "segment"] == "Low").all()
    # Policy: every High off-boarded; Medium only with a rule; Low never.
    assert s.loc[s["segment"] == "High", "offboard"].all()
    assert not s.loc[s["segment"] == "Low", "offboard"].any()
    med = s[s["segment"] == "Medium"]
    assert (med["offboard"] == (med["rules"] != "")).all()
    assert sum(r.segment_sizes().values()) == len(s)
    # Every listed customer carries reasons in words with its own and the typical value.
    listing = r.offboarding
    assert len(listing) == int(s["offboard"].sum()) > 0
    assert listing["score"].is_monotonic_decreasing
    assert all("(typical customer: " in x for x in listing["reasons"])
    assert ingested.count("unlabelled_offboarding") == len(listing)
    assert ingested.count("unlabelled_scores") == len(s)


def test_rules_and_missing_rule_features(ingested: DuckDBWarehouse, store: LocalStore) -> None:
    cfg = OffboardConfig(
        rules=[
            Rule(name="everyone", feature="in_count_365d", op=">=", value=0, meaning="matches all"),
            Rule(name="ghost", feature="no_such_feature", value=1, meaning="absent"),
        ]
    )
    r = score_cohort(ingested, store, AS_OF, "unlabelled", cfg)
    assert r.rules_skipped == ["ghost (no feature no_such_feature)"]
    assert (r.scores["rules"] == "everyone").all()
    # With a rule that every customer triggers, every Medium customer is off-boarded.
    assert r.scores.loc[r.scores["segment"] == "Medium", "offboard"].all()


def test_rule_semantics_and_formatting() -> None:
    rule = Rule(name="x", feature="f", op=">", value=2.0, meaning="m")
    assert rule.check(pd.Series([1.0, 3.0, np.nan, None])).tolist() == [False, True, False, False]
    assert _fmt("pass_through_2d_90d", 0.94) == "94%"
    assert _fmt("out_sum_30d", 12345.6) == "12,346"
    assert _fmt("days_since_last_tx", 3.2) == "3 days"
    assert _fmt("out_in_ratio_30d", 1.234) == "1.23"
    assert _fmt("country", "NG") == "NG"
    assert _fmt("out_mean_30d", None) == "none"


def test_runs_are_listed_and_compared(tmp_path: Path) -> None:
    s = LocalStore(tmp_path)
    base = {"run_id": "r1", "created": "t", "parameters": {"seed": 1, "as_of": "2026-09-30"},
            "snapshots": {"labelled": {"fingerprint": "a"}}, "scoring": {"offboard": 10}}  # fmt: skip
    s.write_text("r1/run.json", json.dumps(base))
    other = base | {"run_id": "r2", "parameters": {"seed": 2, "as_of": "2026-09-30"}, "scoring": {"offboard": 12}}
    s.write_text("r2/run.json", json.dumps(other))
    s.write_text("models/m1/card.json", "{}")
    assert [r["run_id"] for r in list_runs(s)] == ["r1", "r2"]
    assert compare_runs(base, other) == [("parameters.seed", 1, 2), ("scoring.offboard", 10, 12)]
