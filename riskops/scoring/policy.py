"""The off-boarding policy: segments, rules and cut-offs, saved with each model (its default) and each scoring
run, and read back by the service so batch and online decide alike. Pydantic only: the CLI reads it at start."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, Literal, get_args

import pandas as pd
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from riskops.io.artifacts import ArtifactStore
    from riskops.model.registry import ModelCard


Segment = Literal["Low", "Medium", "High"]


SEGMENTS: tuple[Segment, ...] = get_args(Segment)  # lowest first


_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


class Rule(BaseModel):
    name: str
    feature: str
    op: Literal[">=", ">", "<=", "<"] = ">="
    value: float
    meaning: str = Field(description="what it means for the business, shown on the list")

    def check(self, values: pd.Series) -> pd.Series:
        hit = _OPS[self.op](pd.to_numeric(values, errors="coerce"), self.value)
        return hit.fillna(False).astype(bool)

    def fires(self, value: Any) -> bool:
        """`check` for one value (the service's path: no Series per request)."""
        try:
            return bool(_OPS[self.op](float(value), self.value))  # NaN compares False, as in `check`
        except (TypeError, ValueError):
            return False


DEFAULT_RULES = [
    Rule(name="pass_through", feature="pass_through_2d_90d", value=0.8,
         meaning="moves most incoming money straight out again (mule / layering pattern)"),
    Rule(name="high_risk_corridors", feature="high_risk_out_sum_365d", value=10_000,
         meaning="sends large sums to high-risk jurisdictions"),
    Rule(name="chargebacks", feature="chargeback_reversed_count_365d", value=3,
         meaning="repeated chargebacks or reversals (first-party fraud)"),
    Rule(name="structuring", feature="near_threshold_count_90d", value=3,
         meaning="several amounts just under the reporting threshold (structuring)"),
]  # fmt: skip


class DriftPolicy(BaseModel):
    """When a scored cohort's inputs or scores count as drifted from the model's reference (scoring.drift)."""

    psi: float = Field(default=0.2, gt=0, description="PSI above this is drift (0.1-0.2 moderate, > 0.2 major)")
    js: float = Field(default=0.1, gt=0, le=1, description="Jensen-Shannon divergence (base 2) for categoricals")
    confidence: float = Field(default=0.99, gt=0.5, lt=1, description="a PSI sampling alone reaches this seldom "
                              "at the cohort's size is never drift")  # fmt: skip
    min_rows: int = Field(default=100, ge=1, description="cohorts smaller than this are not judged")


class OffboardConfig(BaseModel):
    """The off-boarding policy: one object, saved with the model (its default) and with every scoring run that
    used it (`<run>/policy.json`), and read back by the service, so batch and online decide alike."""

    medium_factor: float = Field(default=0.5, gt=0, lt=1, description="Medium from this x the High cut-off")
    high_cutoff: float | None = Field(default=None, description="default: the model's cost-optimal threshold")
    rules: list[Rule] = Field(default_factory=lambda: list(DEFAULT_RULES))
    min_rules: int = Field(default=1, ge=1, description="rules a Medium customer must trigger to be off-boarded")
    reasons: int = Field(default=3, ge=1, le=10)
    drift: DriftPolicy = Field(default_factory=DriftPolicy)
    maturity_days: int = Field(default=90, ge=1, description="days after a run's as-of date its outcomes count")
    retrain_on: Literal["never", "drift", "performance", "either"] = Field(
        default="never", description="what lets the monitoring pipeline start the training pipeline (its gate decides)"
    )

    def resolved(self, card: ModelCard) -> OffboardConfig:
        """This policy with its High cut-off fixed: the model's cost-optimal threshold unless one is set."""
        return self if self.high_cutoff is not None else self.model_copy(update={"high_cutoff": card.threshold})

    @property
    def high(self) -> float:
        if self.high_cutoff is None:
            raise ValueError("the policy's High cut-off is not resolved against a model yet")
        return self.high_cutoff

    @property
    def medium(self) -> float:
        return self.high * self.medium_factor


POLICY = "policy.json"  # beside a model version (its default) and in each scoring run's folder


def read_policy(store: ArtifactStore, folder: str) -> OffboardConfig | None:
    """The policy saved in `folder` (a run id, or models/<version>), or None when there is none."""
    key = f"{folder}/{POLICY}"
    return OffboardConfig.model_validate_json(store.read_text(key)) if store.exists(key) else None


def model_policy(store: ArtifactStore, card: ModelCard) -> OffboardConfig:
    """A model's default policy, resolved against it."""
    return (read_policy(store, f"models/{card.version}") or OffboardConfig()).resolved(card)
