"""The SHAP leaf table gives CatBoost's own SHAP values (decision 0017): every kind of split our models make
(floats with missing values, one-hot and CTR categoricals, CTRs on combinations with floats and one-hot values),
every depth the tuning searches, calibrated models, one row and many; a model it does not read falls back to
CatBoost."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from catboost import CatBoostClassifier, Pool

from riskops.model.inputs import shap_table, shap_values
from riskops.model.treeshap import ShapTable

CATS = ["region", "segment", "branch"]


def _book(n: int = 2000) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    X = pd.DataFrame(
        {
            "amount": rng.lognormal(6, 1, n),
            "count": rng.poisson(4, n).astype(float),
            "region": rng.choice(list("abcd"), n),
            "segment": rng.choice(["retail", "sme"], n),
            "branch": rng.choice([f"b{i}" for i in range(15)], n),
        }
    )
    X.loc[rng.random(n) < 0.1, "amount"] = np.nan
    logit = (
        np.log1p(X["amount"].fillna(0)) / 3
        - 2
        + (X["region"] == "a") * 1.2
        + (X["branch"].str[1:].astype(int) % 3 == 0)
        + (X["region"] == "b") * (X["segment"] == "sme") * 1.5
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()
    return X, y


def _catboosts(X: pd.DataFrame, pool: Pool, model: CatBoostClassifier) -> np.ndarray:
    """CatBoost's own SHAP values (it computes them only at scale 1: scaled back as `shap_values` does)."""
    scale, bias = model.get_scale_and_bias()
    twin = model.copy()
    twin.set_scale_and_bias(1.0, 0.0)
    sv = np.asarray(twin.get_feature_importance(pool, type="ShapValues")) * scale
    sv[:, -1] += bias
    return sv


@pytest.mark.parametrize("depth", [1, 3, 6, 8])
@pytest.mark.parametrize("calibrated", [False, True])
def test_the_table_gives_catboosts_shap_values(depth: int, calibrated: bool) -> None:
    X, y = _book()
    model = CatBoostClassifier(
        iterations=30, depth=depth, one_hot_max_size=2, random_seed=1, verbose=0, allow_writing_files=False
    )
    model.fit(Pool(X, y, cat_features=CATS))
    pool = Pool(X, cat_features=CATS)
    table = ShapTable.of(model)
    assert table is not None
    raw = _catboosts(X, pool, model)  # the trees' own contributions: the model is not calibrated yet
    leaves = model.calc_leaf_indexes(pool)
    for rows in (slice(0, 1), slice(0, 300), slice(None)):  # the one-gather path and the pass per entry
        got = table.values(leaves[rows])
        assert got.shape == raw[rows].shape
        assert np.abs(got - raw[rows]).max() < 1e-9
    assert shap_table(model) is not None  # made and kept before the calibration below
    if calibrated:  # calibrating after the table was made: the values follow the model's scale and bias
        model.set_scale_and_bias(0.8, -0.4)
    expected = _catboosts(X, pool, model)
    for rows in (slice(0, 1), slice(None)):
        assert np.abs(shap_values(model, X.iloc[rows], CATS) - expected[rows]).max() < 1e-9
    # They add up to the model's log-odds, like CatBoost's.
    assert np.allclose(shap_values(model, X, CATS).sum(axis=1), model.predict(pool, prediction_type="RawFormulaVal"))


def test_combinations_of_categories_with_floats_are_read_as_catboost_reads_them(tmp_path: Path) -> None:
    X, y = _book()
    model = CatBoostClassifier(
        iterations=60, depth=6, max_ctr_complexity=4, random_seed=3, verbose=0, allow_writing_files=False
    )
    model.fit(Pool(X, y, cat_features=CATS))
    model.save_model(str(tmp_path / "m.json"), format="json")
    kinds = {
        tuple(sorted({e["combination_element"] for e in ctr["elements"]})) if len(ctr["elements"]) > 1 else ()
        for ctr in json.loads((tmp_path / "m.json").read_text())["features_info"]["ctrs"]
    }
    # Combinations of hashed categories, of a category with floats and with a one-hot category: all three kinds.
    assert {
        ("cat_feature_value",),
        ("cat_feature_value", "float_feature"),
        ("cat_feature_exact_value", "cat_feature_value"),
    } <= kinds
    pool = Pool(X, cat_features=CATS)
    table = shap_table(model)
    assert table is not None and shap_table(model) is table  # made once, kept with the model
    assert np.abs(shap_values(model, X, CATS) - _catboosts(X, pool, model)).max() < 1e-9


def test_a_model_the_table_does_not_read_is_explained_by_catboost() -> None:
    X, y = _book(800)
    model = CatBoostClassifier(
        iterations=20, depth=4, grow_policy="Depthwise", random_seed=0, verbose=0, allow_writing_files=False
    )
    model.fit(Pool(X, y, cat_features=CATS))
    assert ShapTable.of(model) is None  # not symmetric trees
    pool = Pool(X, cat_features=CATS)
    assert np.abs(shap_values(model, X, CATS) - _catboosts(X, pool, model)).max() < 1e-12
