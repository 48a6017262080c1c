"""A model's reference profile (`models/<version>/reference.json`): what its inputs and scores looked like on
its own holdout, frozen with the version, so drift is always measured against the same bins.

- numeric feature: the deciles of its non-missing holdout values as bin edges (duplicates merged; a constant
  feature has one bin), each bin's share, and the missing share;
- categorical feature: the shares of its most frequent categories, of all others together, and of missing;
- the score: deciles of the holdout scores; the segment mix under the model's default policy.

Bins are half-open, `[edge_i, edge_i+1)`, the first from minus infinity and the last to plus infinity, so every
value falls in exactly one and SQL can count them with the same comparisons (scoring.drift).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel

from riskops.model.inputs import MISSING_CATEGORY
from riskops.model.segments import Cutoffs, shares

REFERENCE = "reference.json"
MAX_CATEGORIES = 12
EPS = 1e-4  # a share of 0 would make the PSI infinite: both sides are floored here


def psi(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    """PSI over the last axis, shares floored at EPS on both sides."""
    a, e = np.maximum(a, EPS), np.maximum(e, EPS)
    return np.sum((a - e) * np.log(a / e), axis=-1)


class Profile(BaseModel):
    """One variable's frozen bins and their reference shares: `shares` has one entry per bin (numeric:
    len(edges) + 1; categorical: len(categories) + 1 for "other"), then `missing`."""

    name: str
    kind: Literal["numeric", "categorical"]
    edges: list[float] = []
    categories: list[str] = []
    shares: list[float]
    missing: float
    rows: int

    @property
    def bins(self) -> int:
        return len(self.shares) + 1  # and missing


class ReferenceProfile(BaseModel):
    version: str
    rows: int
    features: list[Profile]
    score: Profile
    segments: dict[str, float]


def _is_missing(values: pd.Series) -> np.ndarray:
    return np.asarray(values.isna() | values.astype(str).eq(MISSING_CATEGORY))


def numeric_profile(name: str, values: Any) -> Profile:
    x = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    present = x[np.isfinite(x)]
    edges = sorted(set(np.quantile(present, np.linspace(0.1, 0.9, 9)).round(12).tolist())) if len(present) else []
    counts = np.bincount(np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1)
    n = max(len(x), 1)
    return Profile(
        name=name,
        kind="numeric",
        edges=edges,
        shares=(counts / n).tolist(),
        missing=float(1 - len(present) / n) if len(x) else 0.0,
        rows=len(x),
    )


def categorical_profile(name: str, values: Any) -> Profile:
    s = pd.Series(values)
    missing = _is_missing(s)
    present = s[~missing].astype(str)
    counts = present.value_counts()
    top = counts.head(MAX_CATEGORIES)
    n = max(len(s), 1)
    shares = [*(top / n).tolist(), float((counts.sum() - top.sum()) / n)]
    return Profile(
        name=name,
        kind="categorical",
        categories=[str(c) for c in top.index],
        shares=shares,
        missing=float(missing.sum() / n),
        rows=len(s),
    )


def build_reference(
    version: str,
    holdout: pd.DataFrame,
    features: list[str],
    categorical: list[str],
    scores: np.ndarray,
    high: float,
    medium: float,
) -> ReferenceProfile:
    cats = set(categorical)
    profiles = [
        categorical_profile(f, holdout[f]) if f in cats else numeric_profile(f, holdout[f])
        for f in features
        if f in holdout.columns
    ]
    return ReferenceProfile(
        version=version,
        rows=len(holdout),
        features=profiles,
        score=numeric_profile("score", scores),
        segments=shares(scores, Cutoffs(high, medium)) if len(scores) else {"Low": 1.0, "Medium": 0.0, "High": 0.0},
    )


def shares_in(p: Profile, values: Any) -> np.ndarray:
    """The shares of `values` in the profile's bins, then missing: the same layout as the profile's own."""
    s = pd.Series(values)
    n = max(len(s), 1)
    if p.kind == "categorical":
        missing = _is_missing(s)
        present = s[~missing].astype(str)
        known = [int((present == c).sum()) for c in p.categories]
        return np.array([*known, len(present) - sum(known), int(missing.sum())]) / n
    x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
    present = x[np.isfinite(x)]
    binned = np.bincount(np.searchsorted(p.edges, present, side="right"), minlength=len(p.edges) + 1)
    return np.append(binned, len(x) - len(present)) / n


def psi_against(p: Profile, values: Any) -> float:
    """PSI of `values` against the profile's reference shares (missing counted as a bin)."""
    return float(psi(shares_in(p, values), np.array([*p.shares, p.missing])))
