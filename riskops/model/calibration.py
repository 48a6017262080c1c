"""Scores as probabilities. Class weights and early stopping leave CatBoost's scores a good ranking but not a
probability of suspension (the weights shift the log-odds by about log(weight)). Platt scaling on the log-odds,
fitted on the out-of-fold predictions of the development set (what sklearn's CalibratedClassifierCV does with
ensemble=False), maps them back; the same fit on the holdout measures what is left (slope 1, intercept 0 when
calibrated). See docs/decisions/0012-calibration-in-the-model.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss

from riskops.model.inputs import Model
from riskops.model.linear import LinearModel

_EPS = 1e-6


def log_odds(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(q / (1 - q))


def logistic_fit(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """Slope and intercept of the outcome on the score's log-odds (unpenalised logistic regression)."""
    if len(np.unique(y)) < 2:
        return 1.0, 0.0  # one class: nothing to fit; leave the scores as they are
    lr = LogisticRegression(C=np.inf, max_iter=1000).fit(log_odds(p).reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def recalibrated(p: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-(slope * log_odds(p) + intercept))))


def calibrate(model: Model, y: np.ndarray, oof_p: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """Fit Platt scaling on out-of-fold scores and write it into the model (CatBoost's scale and bias, a linear
    model's coefficients), so every path that predicts with the saved model (batch, service, stream) gives the
    calibrated probability. Returns the calibrated out-of-fold scores and what was fitted."""
    slope, intercept = logistic_fit(y, oof_p)
    if slope <= 0:  # a model that ranks worse than chance out of fold: a flipped score would hide it
        slope, intercept = 1.0, 0.0
    if isinstance(model, LinearModel):
        model.recalibrate(slope, intercept)
    else:
        scale, bias = model.get_scale_and_bias()
        model.set_scale_and_bias(slope * scale, slope * bias + intercept)
    calibrated = recalibrated(oof_p, slope, intercept)
    return calibrated, {
        "method": "platt (logistic on the out-of-fold log-odds)",
        "slope": slope,
        "intercept": intercept,
        "oof_brier_before": float(brier_score_loss(y, oof_p)),
        "oof_brier_after": float(brier_score_loss(y, calibrated)),
    }
