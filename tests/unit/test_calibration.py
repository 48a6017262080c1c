"""Scores are probabilities: Platt scaling fitted out of fold and written into the model, SHAP still summing to
the calibrated log-odds, and the holdout check that the segments order the risk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier
from sklearn.metrics import brier_score_loss
from sklearn.model_selection import StratifiedKFold

from riskops.model.calibration import calibrate, log_odds, logistic_fit
from riskops.model.evaluate import monotone, not_monotone, segment_rates
from riskops.model.inputs import predict, shap_values


def _weighted_model(tmp_path: Path) -> tuple[CatBoostClassifier, pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(3000, 4)), columns=["a", "b", "c", "d"])
    y = (rng.random(3000) < 1 / (1 + np.exp(-(2 * X["a"] - X["b"] - 3)))).astype(int).to_numpy()  # ~8% positive
    params = {
        "iterations": 80,
        "depth": 4,
        "verbose": 0,
        "random_seed": 0,
        "class_weights": [1.0, 10.0],
        "allow_writing_files": False,
    }
    oof = np.zeros(len(y))
    for tr, va in StratifiedKFold(4, shuffle=True, random_state=0).split(X, y):
        oof[va] = CatBoostClassifier(**params).fit(X.iloc[tr], y[tr]).predict_proba(X.iloc[va])[:, 1]
    return CatBoostClassifier(**params).fit(X, y), X, y, oof


def test_calibration_turns_class_weighted_scores_into_probabilities(tmp_path: Path) -> None:
    model, X, y, oof = _weighted_model(tmp_path)
    assert oof.mean() > 2 * y.mean()  # class weights inflate the scores
    calibrated, info = calibrate(model, y, oof)
    assert info["oof_brier_after"] < info["oof_brier_before"] == brier_score_loss(y, oof)
    assert abs(calibrated.mean() - y.mean()) < 0.01  # the mean score is the base rate again
    slope, intercept = logistic_fit(y, calibrated)
    assert abs(slope - 1) < 1e-3 and abs(intercept) < 1e-3  # on what it was fitted on: exact
    path = tmp_path / "m.cbm"
    model.save_model(str(path))
    loaded = CatBoostClassifier()
    loaded.load_model(str(path))
    p = predict(loaded, X, [])
    raw = 1 / (1 + np.exp(-(log_odds(p) - info["intercept"]) / info["slope"]))
    assert np.allclose(p, predict(model, X, []))  # the calibration travels in the saved model
    assert abs(p.mean() - y.mean()) < 0.02 and raw.mean() > 2 * y.mean()


def test_shap_values_of_a_calibrated_model_sum_to_its_log_odds_and_leave_it_unchanged(tmp_path: Path) -> None:
    model, X, y, oof = _weighted_model(tmp_path)
    calibrate(model, y, oof)
    before = model.get_scale_and_bias()
    sv = shap_values(model, X.iloc[:200], [])
    assert np.allclose(sv.sum(axis=1), log_odds(predict(model, X.iloc[:200], [])), atol=1e-4)
    assert model.get_scale_and_bias() == before


def test_a_model_worse_than_chance_is_not_flipped(tmp_path: Path) -> None:
    model, _, y, oof = _weighted_model(tmp_path)
    _, info = calibrate(model, y, 1 - oof)
    assert (info["slope"], info["intercept"]) == (1.0, 0.0)


def test_segments_are_checked_to_order_the_risk() -> None:
    y = np.repeat([0, 0, 0, 1, 0, 1, 1, 1], 10)  # 30 Low, 30 Medium, 20 High customers
    p = np.repeat([0.01, 0.02, 0.03, 0.06, 0.07, 0.08, 0.2, 0.3], 10)
    segs = segment_rates(y, p, high=0.1, medium_factor=0.5)
    assert {k: v["customers"] for k, v in segs.items()} == {"Low": 30, "Medium": 30, "High": 20}
    assert [segs[k]["rate"] for k in ("Low", "Medium", "High")] == [0.0, 2 / 3, 1.0] and monotone(segs)
    flipped = segment_rates(1 - y, p, high=0.1, medium_factor=0.5)
    assert not monotone(flipped) and "Low 100.0%, Medium 33.3%, High 0.0%" in not_monotone(flipped)
    empty_medium = segment_rates(y, p, high=0.05, medium_factor=0.99)
    assert empty_medium["Medium"]["customers"] == 0 and monotone(empty_medium)
    few = segment_rates(1 - y[:30], p[:30], high=0.025, medium_factor=0.5)  # 10 High customers: not judged
    assert few["High"]["customers"] == 10 and monotone(few)


def test_a_baseline_that_beats_catboost_on_cv_is_said_plainly() -> None:
    from riskops.model.evaluate import beaten_by, cv_table

    cv = {
        "catboost": {"roc_auc_mean": 0.80, "roc_auc_std": 0.01, "pr_auc_mean": 0.55, "pr_auc_std": 0.02},
        "logistic_regression": {"roc_auc_mean": 0.82, "roc_auc_std": 0.01, "pr_auc_mean": 0.58, "pr_auc_std": 0.02},
        "random_forest": {"roc_auc_mean": 0.79, "roc_auc_std": 0.01, "pr_auc_mean": 0.50, "pr_auc_std": 0.02},
    }
    assert beaten_by(cv) == [
        "logistic_regression beats catboost on cross-validated PR-AUC (0.580 vs 0.550); catboost is still the "
        "model shipped (set `family: logistic_regression` or `family: best` in the policy to ship it)"
    ]
    assert any("logistic_regression beats catboost" in line for line in cv_table(cv))
    assert "| logistic_regression (shipped) |" in "\n".join(cv_table(cv, "logistic_regression"))
    assert beaten_by(cv, "logistic_regression") == []  # shipped: nothing beats it
    cv["random_forest"]["pr_auc_mean"] = 0.60
    assert beaten_by(cv, "logistic_regression")[0].endswith(
        "(it cannot be shipped: only catboost and logistic_regression can)"
    )
    # Under `family: best` the lead was weighed against the folds' noise already: the hint says so.
    best = "best CV PR-AUC: logistic regression 0.5800, CatBoost 0.5500, fold noise 0.0400"
    assert beaten_by(cv, "catboost", best)[0].endswith(
        "(`family: best` keeps catboost on a lead within the folds' noise: logistic regression 0.5800, CatBoost "
        "0.5500, fold noise 0.0400; `family: logistic_regression` ships it regardless)"
    )
    cv["random_forest"]["pr_auc_mean"] = 0.50
    cv["logistic_regression"]["pr_auc_mean"] = 0.55  # a tie is not a win
    assert beaten_by(cv) == []
