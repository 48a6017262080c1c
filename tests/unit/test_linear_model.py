"""The logistic-regression baseline as a model that ships: exact contributions that sum to its calibrated log-odds,
a safe file that round-trips, and training that ships it when the policy says so."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from riskops.core.errors import ArtifactError
from riskops.model.calibration import calibrate, log_odds
from riskops.model.config import TrainConfig
from riskops.model.inputs import align, predict, shap_values
from riskops.model.linear import LinearModel
from riskops.model.train import Dataset, baseline, choose_family, prepare, train


def _frame(n: int = 1500, seed: int = 5) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "amount.sum 90d": rng.lognormal(3, 1, n),  # a name that needs quoting anywhere
            "count_30d": rng.poisson(3, n).astype(float),
            "with_gaps": np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n)),
            "segment": rng.choice(["retail", "sme", "corporate", "private"], n, p=[0.6, 0.3, 0.095, 0.005]),
            "über": rng.choice(["a", "b"], n),
        }
    )
    logit = 0.8 * np.log1p(X["amount.sum 90d"]) - 0.3 * X["count_30d"] + (X["segment"] == "sme") * 1.2 - 3.5
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()
    return X, y


def _dataset(X: pd.DataFrame, y: np.ndarray) -> Dataset:
    frame = X.assign(customer_id=[f"c{i}" for i in range(len(y))], label=y)
    return prepare(frame, list(X.columns), ["segment", "über"])


def test_contributions_are_exact_sum_to_the_calibrated_log_odds_and_survive_the_file() -> None:
    X, y = _frame()
    ds = _dataset(X, y)
    model = LinearModel.fit(baseline("logistic_regression", ds, 0), ds.X, ds.y)
    # Every transformed column is owned by one feature; rare `private` falls in the infrequent column.
    assert sorted(set(model._owner.tolist())) == list(range(len(ds.X.columns)))
    calibrate(model, ds.y, predict(model, ds.X, ds.categorical) * 0.5)  # any Platt fit: it is folded in
    rows = ds.X.iloc[:300]
    sv = shap_values(model, rows, ds.categorical)
    assert sv.shape == (300, len(ds.X.columns) + 1)
    assert np.allclose(sv.sum(axis=1), log_odds(predict(model, rows, ds.categorical)), atol=1e-6)
    assert np.allclose(sv[:, :-1].mean(axis=0), 0, atol=0.3)  # relative to the training rows' mean
    # No interactions: changing one feature moves that feature's contribution and no other.
    other = rows.copy()
    other["über"] = np.where(rows["über"] == "a", "b", "a")
    moved = ~np.isclose(shap_values(model, other, ds.categorical), sv).all(axis=0)
    assert moved.tolist() == [c == "über" for c in ds.X.columns] + [False]

    loaded = LinearModel.from_bytes(model.to_bytes(), "memory")
    assert np.allclose(predict(loaded, rows, ds.categorical), predict(model, rows, ds.categorical))
    assert np.allclose(shap_values(loaded, rows, ds.categorical), sv)
    # The service scores plain rows in the model's order, as it does with CatBoost.
    plain = [list(r) for r in rows.itertuples(index=False)]
    assert np.allclose(loaded.predict_proba(plain)[:, 1], predict(model, rows, ds.categorical))


def test_a_model_file_holding_other_types_is_refused_not_loaded() -> None:
    hostile = sio.dumps({"pipeline": pd.Timestamp("2026-01-01"), "features": [], "background": np.zeros(1)})
    with pytest.raises(ArtifactError, match="types it may not"):
        LinearModel.from_bytes(hostile, "models/m1/model.skops")
    with pytest.raises(ArtifactError, match="does not load"):
        LinearModel.from_bytes(b"PK\x03\x04 not a model", "models/m1/model.skops")


def test_training_ships_the_family_the_policy_chooses() -> None:
    X, y = _frame(1200, seed=7)
    ds = _dataset(X, y)
    cfg = TrainConfig(folds=3, max_iterations=60, baselines=False, imbalance="none", family="logistic_regression")
    result = train(ds, cfg)
    assert result.family == "logistic_regression" and isinstance(result.model, LinearModel)
    assert set(result.cv) == {"catboost", "logistic_regression"}  # the chosen family's CV, even without baselines
    assert len(result.oof_p) == len(result.oof_y) and np.isfinite(result.oof_p).all()
    scored = predict(result.model, align(result.holdout_X, result.features, result.categorical), result.categorical)
    assert np.isfinite(scored).all()

    folds = {"catboost": [0.50, 0.52, 0.48], "logistic_regression": [0.53, 0.55, 0.51]}
    assert choose_family("best", folds)[0] == "logistic_regression"  # better on every fold
    assert choose_family("catboost", folds) == ("catboost", "chosen by the policy")
    folds["logistic_regression"] = [0.56, 0.47, 0.50]  # better on the mean, within the folds' noise
    assert choose_family("best", folds)[0] == "catboost"
    folds["logistic_regression"] = folds["catboost"]  # a tie keeps CatBoost
    assert choose_family("best", folds)[0] == "catboost"
