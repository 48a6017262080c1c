"""How a model is trained and what its errors cost: the configuration models, light enough for the CLI and the
run parameters to read their defaults from (no Optuna, CatBoost or scikit-learn here)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Imbalance = Literal["none", "class_weights", "oversample"]
Family = Literal["catboost", "logistic_regression"]  # the model families a version can ship (model.linear)
ModelChoice = Literal["catboost", "logistic_regression", "best"]  # best: model.train.choose_family
BEST_REASON = "best CV PR-AUC"  # how `choose_family` starts the reason it gives under `best`


class TrainConfig(BaseModel):
    seed: int = 42
    holdout_share: float = Field(default=0.2, gt=0, lt=0.5)
    folds: int = Field(default=5, ge=2, le=10)
    # Tuning is asked for, not default: on the default samples no trial beat the defaults (decision 0009).
    trials: int = Field(default=0, ge=0, description="Optuna trials (0 = keep the default parameters)")
    tuning_timeout_s: float = Field(default=90.0, gt=0, description="stop tuning after this many seconds")
    tuning_folds: int = Field(default=3, ge=2)
    max_iterations: int = Field(default=1500, ge=10)
    early_stopping_rounds: int = Field(default=50, ge=5, description="patience; 100 grew more trees, same models")
    early_stopping_metric: str = Field(default="Logloss", description="smooth; PR-AUC on a small split is noisy")
    selection_rows: int | None = Field(
        default=60_000,
        ge=100,
        description="development customers above which the imbalance comparison, tuning and the CV against the "
        "baselines run on a stratified sample of this many (the final model is fit on them all); None: never",
    )
    imbalance: Literal["auto", "none", "class_weights", "oversample"] = "auto"
    oversample_to: float = Field(default=0.25, gt=0, lt=1, description="minority share after oversampling")
    baselines: bool = True
    family: ModelChoice = Field(default="catboost", description="the family that ships (the policy's `family`)")
    thread_count: int = -1
    outcomes: bool = Field(
        default=False,
        description="also learn from current customers' matured outcomes: "
        "loaded outcomes, stream outcomes, the console's confirmed off-boardings and keeps",
    )


class CostMatrix(BaseModel):
    """What each kind of error costs the business, in one currency."""

    missed_cost: float = Field(default=5_000.0, gt=0, description="a SUSPENDED-to-be customer kept (false negative)")
    offboard_cost: float = Field(default=400.0, gt=0, description="a good customer off-boarded (false positive)")


class ValidationPolicy(BaseModel):
    """The limits a validation pack judges by (the policy file's `validation:`)."""

    model_config = ConfigDict(extra="forbid")

    oot_share: float = Field(default=0.2, gt=0, lt=0.6, description="share of the labelled book, its latest "
                             "signups, that the out-of-time model is tested on")  # fmt: skip
    oot_min_history_days: int = Field(default=90, ge=0, description="days of transactions the earlier book should "
                                      "hold; the cut-off moves later to reach them")  # fmt: skip
    oot_min_share: float = Field(default=0.05, gt=0, lt=0.6, description="the smallest share of the book the cut-off "
                                 "may leave to test on when it moves")  # fmt: skip
    oot_auc_drop_warn: float = Field(default=0.03, ge=0)
    oot_auc_drop_fail: float = Field(default=0.08, ge=0)
    psi_warn: float = Field(default=0.1, gt=0, description="PSI above this across vintages is a shift")
    psi_fail: float = Field(default=0.25, gt=0, description="PSI above this is a shift the model may not survive")
    weak_auc: float = Field(default=0.6, gt=0, lt=1, description="a bin or segment ranking worse is a weak spot")
    min_bin_customers: int = Field(default=30, ge=5, description="bins smaller than this are not judged")
    overfit_gap_warn: float = Field(default=0.05, ge=0, description="development ROC-AUC above holdout by this")
    overfit_gap_fail: float = Field(default=0.15, ge=0)
    noise: float = Field(default=0.1, gt=0, le=1, description="perturbation, as a share of each feature's spread")
    min_list_overlap: float = Field(default=0.8, gt=0, le=1, description="list overlap under that noise")
    fairness_tolerance: float = Field(default=0.1, ge=0, le=1, description="how far a live listed-share ratio "
                                      "may fall below the approved one before monitoring says so")  # fmt: skip
    bootstrap: int = Field(default=500, ge=50, le=5000, description="paired bootstrap resamples")
    key_features: int = Field(default=8, ge=1, le=30)
    scorecard_features: int = Field(default=15, ge=2, le=60)
