"""The segment rule, one definition for every layer (riskops.model.segments)."""

from __future__ import annotations

import numpy as np

from riskops.model.segments import SEGMENTS, Cutoffs, offboarded, segment_codes, segment_of, segments, shares

CUT = Cutoffs.of(0.2, 0.5)  # High from 0.2, Medium from 0.1


def test_a_score_at_a_cutoff_belongs_to_the_segment_above() -> None:
    scores = np.array([0.0, 0.0999, 0.1, 0.1999, 0.2, 1.0])
    assert Cutoffs(0.2, 0.1) == CUT
    assert segments(scores, CUT).tolist() == ["Low", "Low", "Medium", "Medium", "High", "High"]
    assert [segment_of(float(s), CUT) for s in scores] == segments(scores, CUT).tolist()
    assert [SEGMENTS[i] for i in segment_codes(scores, CUT)] == segments(scores, CUT).tolist()


def test_shares_add_up_and_an_empty_window_has_none() -> None:
    got = shares(np.array([0.05, 0.15, 0.25, 0.3]), CUT)
    assert got == {"Low": 0.25, "Medium": 0.25, "High": 0.5} and sum(got.values()) == 1.0
    assert shares(np.array([]), CUT) == {"Low": 0.0, "Medium": 0.0, "High": 0.0}


def test_the_list_holds_every_high_and_the_mediums_with_enough_rules() -> None:
    segment = np.array(["High", "High", "Medium", "Medium", "Low"], dtype=object)
    assert offboarded(segment, np.array([0, 3, 1, 2, 5]), 2).tolist() == [True, True, False, True, False]
    assert bool(offboarded("Medium", 2, 2)) and not bool(offboarded("Low", 9, 0))


def test_segment_rates_carry_an_interval_and_say_when_the_order_is_not_established() -> None:
    from riskops.model.evaluate import indistinct, segment_rates

    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 2000)
    y = (rng.uniform(0, 1, 2000) < p).astype(int)  # the rate rises with the score
    segs = segment_rates(y, p, high=0.8, medium_factor=0.5)
    for s in segs.values():
        assert s["rate_low"] <= s["rate"] <= s["rate_high"]
    assert indistinct(segs) == []  # 2,000 customers separate the three
    few = segment_rates(y[:60], p[:60], high=0.8, medium_factor=0.9)  # a thin Medium band, a small holdout
    assert few["Medium"]["rate_high"] - few["Medium"]["rate_low"] > 0.2
    overlapping = {
        "Low": {"customers": 50, "rate": 0.1, "rate_low": 0.05, "rate_high": 0.2},
        "Medium": {"customers": 50, "rate": 0.15, "rate_low": 0.08, "rate_high": 0.25},
    }
    assert indistinct(overlapping) == ["Low and Medium"]


def test_the_medium_cutoff_moves_until_each_segment_can_be_measured_and_ordered() -> None:
    """Scores crowd below the default Medium cut-off (half of High): the factor moves out to where Medium holds
    enough customers to measure a rate between Low's and High's; the policy uses it unless it sets its own."""
    from types import SimpleNamespace

    from riskops.model.evaluate import MIN_SEGMENT_ROWS, choose_medium_factor, segment_rates
    from riskops.scoring.policy import OffboardConfig

    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(0.0, 0.04, 600), rng.uniform(0.04, 0.099, 150), rng.uniform(0.2, 0.6, 100)])
    y = (rng.random(len(p)) < np.where(p >= 0.2, 0.5, np.where(p >= 0.04, 0.12, 0.01))).astype(int)
    assert segment_rates(y, p, 0.2, 0.5)["Medium"]["customers"] < MIN_SEGMENT_ROWS  # the default cannot measure
    factor, why = choose_medium_factor(y, p, 0.2)
    rates = segment_rates(y, p, 0.2, factor)
    assert factor < 0.5 and all(v["customers"] >= MIN_SEGMENT_ROWS for v in rates.values())
    assert rates["Low"]["rate"] < rates["Medium"]["rate"] < rates["High"]["rate"] and "rises" in why
    flat = choose_medium_factor(np.zeros(50, dtype=int), np.linspace(0, 0.1, 50), 0.2)
    assert flat[0] == 0.5 and "no factor" in flat[1]

    card = SimpleNamespace(metrics={"medium_factor": factor}, threshold=0.2)
    assert OffboardConfig().resolved(card).medium == 0.2 * factor  # type: ignore[arg-type]
    own = OffboardConfig(medium_factor=0.5).resolved(card)  # type: ignore[arg-type]
    assert own.medium == 0.1 and OffboardConfig(high_cutoff=0.3).resolved(card).medium == 0.3 * factor  # type: ignore[arg-type]
