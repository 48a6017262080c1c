"""What a run is asked to do beside its data. Every default is read from the configuration model that owns it
(training from TrainConfig, costs from CostMatrix); the CLI, the steps and the pipelines read them from here."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from riskops.model.config import CostMatrix, TrainConfig
from riskops.scoring.policy import OffboardConfig, training_family

_TRAIN, _COSTS = TrainConfig(), CostMatrix()


class RunParameters(BaseModel):
    """The training pipeline's and the scoring pipeline's knobs."""

    trials: int = _TRAIN.trials
    tuning_timeout_s: float = _TRAIN.tuning_timeout_s
    seed: int = _TRAIN.seed
    missed_cost: float = _COSTS.missed_cost
    offboard_cost: float = _COSTS.offboard_cost
    margin: float = 0.0  # PR-AUC a challenger must gain over the champion
    outcomes: bool = _TRAIN.outcomes  # also learn from current customers' matured outcomes (TrainConfig.outcomes)
    policy: OffboardConfig | None = None  # None: the model's default
    shards: int = Field(default=1, ge=1, description="parallel scoring tasks the unlabelled cohort is split into")
    retrain: bool = Field(default=False, description="train even when only the policy changed (`riskops run`)")
    registered_by: str = Field(default="", description="who the model is registered in the name of (default: the "
                               "operating-system user); four eyes: never its approver")  # fmt: skip

    @property
    def family(self) -> str:
        """The model family training ships: the policy's choice."""
        return training_family(self.policy)

    @property
    def fairness(self) -> dict[str, Any]:
        """The fairness limits evaluation and the gate judge by: the policy's."""
        return (self.policy or OffboardConfig()).fairness.model_dump()

    @property
    def validation(self) -> dict[str, Any]:
        """The limits the validation pack judges by: the policy's."""
        return (self.policy or OffboardConfig()).validation.model_dump()

    @property
    def max_list_share(self) -> float:
        """The policy's list limit as a share of the book (1.0: none), the decisions fairness is measured at."""
        return (self.policy or OffboardConfig()).max_list_share or 1.0

    @property
    def allow_protected(self) -> dict[str, str]:
        """Protected attributes the policy lets the model use, with their justification."""
        return dict((self.policy or OffboardConfig()).allow_protected)

    def training(self) -> dict[str, Any]:
        names = (
            "trials",
            "tuning_timeout_s",
            "seed",
            "missed_cost",
            "offboard_cost",
            "margin",
            "outcomes",
            "family",
            "fairness",
            "validation",
            "max_list_share",
            "allow_protected",
            "registered_by",
        )
        return {n: getattr(self, n) for n in names}

    def scoring(self) -> dict[str, Any]:
        return {"policy": self.policy.model_dump() if self.policy else {}, "shards": self.shards}


DEFAULTS = RunParameters()
