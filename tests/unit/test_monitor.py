"""The outcome loop's arithmetic on a hand-counted case: what counts as a result of a run, when it matures."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from riskops.runs.monitor import performance

SCORES = pd.DataFrame(
    {
        "customer_id": ["C1", "C2", "C3", "C4", "C5"],
        "score": [0.9, 0.8, 0.2, 0.1, 0.7],
        "offboard": [True, True, False, False, True],
    }
)
OUTCOMES = pd.DataFrame(
    {
        "customer_id": ["C1", "C2", "C3", "C4", "C5"],
        "account_state": ["SUSPENDED", "ACTIVE", "SUSPENDED", "SUSPENDED", "SUSPENDED"],
        "decided_at": pd.to_datetime(["2026-10-15", "2026-11-01", "2026-11-20", "2026-09-01", "2027-02-01"], utc=True),
    }
)


def test_a_matured_run_counts_outcomes_inside_its_window_only() -> None:
    p = performance("r1", date(2026, 9, 30), SCORES, "m1", OUTCOMES, 90, datetime(2027, 3, 1, tzinfo=UTC))
    # C4 was decided before the run (history, left out); C5 after the 90 days (not this run's result).
    assert p.matured and p.mature_on == "2026-12-30"
    assert p.customers == 4 and p.excluded_decided_before == 1
    assert p.suspended == 2 and p.listed == 3  # C1 and C3; C1, C2, C5
    assert p.precision == pytest.approx(1 / 3, abs=1e-4) and p.recall == pytest.approx(0.5)
    assert p.expected_precision == pytest.approx((0.9 + 0.8 + 0.7) / 3, abs=1e-4)
    assert p.expected_recall == pytest.approx(2.4 / 2.6, abs=1e-4)
    assert p.roc_auc == pytest.approx(0.5)  # suspended vs not: C1 > C2, C1 > C5, C3 < C2, C3 < C5


def test_before_maturity_only_outcomes_known_now_count_and_the_run_says_it_is_partial() -> None:
    p = performance("r1", date(2026, 9, 30), SCORES, "m1", OUTCOMES, 90, datetime(2026, 11, 1, tzinfo=UTC))
    assert not p.matured
    assert p.suspended == 1 and p.precision == pytest.approx(1 / 3, abs=1e-4) and p.recall == 1.0


def test_champion_and_challenger_are_compared_on_the_same_requests() -> None:
    from riskops.runs.monitor import compare_shadow

    log = pd.DataFrame(
        {
            "request_id": ["r1", "r1", "r2", "r2", "r3", "r3", "r4"],
            "customer_key": ["a", "a", "b", "b", "c", "c", "d"],
            "model_version": ["m1", "m2", "m1", "m2", "m1", "m2", "m1"],
            "score": [0.9, 0.8, 0.1, 0.3, 0.5, 0.2, 0.4],
            "segment": ["High", "High", "Low", "Medium", "Medium", "Low", "Low"],
            "offboard": [True, True, False, False, True, False, False],
            "shadow": [False, True, False, True, False, True, None],  # r4: before the challenger was named
        }
    )
    (c,) = compare_shadow(log)
    assert c["champion"] == "m1" and c["challenger"] == "m2" and c["pairs"] == 3
    assert c["segment_agreement"] == pytest.approx(1 / 3, abs=1e-4)
    assert c["high_share"] == c["high_share_challenger"] == pytest.approx(1 / 3, abs=1e-4)
    assert c["offboard_share"] == pytest.approx(2 / 3, abs=1e-4) and c["offboard_share_challenger"] == pytest.approx(
        1 / 3, abs=1e-4
    )
    assert c["rank_correlation"] == pytest.approx(0.5)
    assert compare_shadow(log[log["shadow"].ne(True)]) == []


def test_a_run_without_any_outcome_yet_has_no_realized_figures() -> None:
    none = OUTCOMES.iloc[0:0]
    p = performance("r1", date(2026, 9, 30), SCORES, "m1", none, 90, datetime(2026, 10, 5, tzinfo=UTC))
    assert p.suspended == 0 and p.precision == 0.0 and p.recall is None and p.roc_auc is None
    assert p.expected_precision == pytest.approx(0.8, abs=1e-4)
