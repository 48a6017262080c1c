"""The segment rule, in one place for every layer: a score at or above the High cut-off is High, at or above the
Medium cut-off (High x the policy's medium factor) is Medium, else Low; the off-boarding decision lists every
High customer and the Medium ones that trigger at least `min_rules` rules. Evaluation, the reference profile,
batch scoring, the service and the stream all call these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

Segment = Literal["Low", "Medium", "High"]
SEGMENTS: tuple[Segment, ...] = get_args(Segment)  # lowest first


@dataclass(frozen=True)
class Cutoffs:
    high: float
    medium: float

    @classmethod
    def of(cls, high: float, medium_factor: float) -> Cutoffs:
        return cls(high, high * medium_factor)


def segment_codes(scores: np.ndarray, cut: Cutoffs) -> np.ndarray:
    """0 (Low), 1 (Medium) or 2 (High) per score: an index into SEGMENTS."""
    return np.where(scores >= cut.high, 2, np.where(scores >= cut.medium, 1, 0))


def segments(scores: np.ndarray, cut: Cutoffs) -> np.ndarray:
    """The segment name per score."""
    return np.asarray(SEGMENTS, dtype=object)[segment_codes(np.asarray(scores, dtype=float), cut)]


def segment_of(score: float, cut: Cutoffs) -> Segment:
    return "High" if score >= cut.high else "Medium" if score >= cut.medium else "Low"


def shares(scores: np.ndarray, cut: Cutoffs) -> dict[str, float]:
    """The share of scores in each segment (0 for each when there is none)."""
    codes = segment_codes(np.asarray(scores, dtype=float), cut)
    n = len(codes)
    return {name: float(np.mean(codes == i)) if n else 0.0 for i, name in enumerate(SEGMENTS)}


def offboarded(segment: np.ndarray | str, rules_fired: np.ndarray | int, min_rules: int) -> np.ndarray:
    """The off-boarding decision: High, or Medium with at least `min_rules` rules fired (arrays, or one customer:
    a 0-d array, `bool()` of it)."""
    medium = np.equal(segment, "Medium") & (np.asarray(rules_fired) >= min_rules)
    return np.asarray(np.equal(segment, "High") | medium)
