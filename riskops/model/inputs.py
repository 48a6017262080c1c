"""What a trained model is fed and what it returns: the columns in its order, probabilities, SHAP contributions.
Scoring (batch and online) needs only this, not the training machinery (Optuna, the baselines). A model is
CatBoost's or, when the policy chose the logistic-regression baseline, a `LinearModel`: both answer here alike."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import pandas as pd
from catboost import CatBoostClassifier, Pool

from riskops.core.errors import DataContractError
from riskops.features.engineering import ID_COLUMN, LABEL_COLUMN
from riskops.model.linear import LinearModel
from riskops.model.treeshap import ShapTable

MISSING_CATEGORY = "__missing__"

Model: TypeAlias = CatBoostClassifier | LinearModel


def predict(model: Model, X: pd.DataFrame, categorical: list[str]) -> np.ndarray:
    if isinstance(model, LinearModel):
        return model.predict_proba(X)[:, 1]
    return np.asarray(model.predict_proba(pool(X, categorical))[:, 1])


def pool(X: pd.DataFrame, categorical: list[str]) -> Pool:
    """CatBoost's input for aligned rows. A few rows go as plain rows: from a DataFrame CatBoost spends ~4-5 ms
    whatever its length (checks per column), from rows ~0.3 ms for one (the crossover near 150 rows, measured)."""
    if not 0 < len(X) <= FEW_ROWS:
        return Pool(X, cat_features=categorical)
    columns = list(X.columns)
    return Pool(
        X.to_numpy(dtype=object).tolist(), cat_features=[columns.index(c) for c in categorical], feature_names=columns
    )


def check_columns(columns: list[str], features: list[str], dropped: list[str] | None = None) -> None:
    """Refuse scoring data whose columns differ from the model's feature list (besides the id, the label and
    features the model dropped as constant), naming both sides."""
    known = {*features, *(dropped or []), ID_COLUMN, LABEL_COLUMN, "account_state"}
    present = set(columns)
    missing = [f for f in features if f not in present]
    unexpected = [c for c in columns if c not in known]
    if missing or unexpected:
        raise DataContractError(
            f"scoring columns do not match the model: missing {missing}, unexpected {unexpected}",
            "scoring features",
            "build the features with the feature config and attributes the model was trained with",
        )


def align(
    frame: pd.DataFrame, features: list[str], categorical: list[str], dropped: list[str] | None = None
) -> pd.DataFrame:
    """Scoring data in the model's column order (see `check_columns`)."""
    check_columns(list(frame.columns), features, dropped)
    cats = set(categorical)
    X = frame[features]  # one take; only columns not already float64 are converted (each assignment ~40 us)
    dtypes = X.dtypes
    for c in features:
        if c in cats:
            s = X[c]
            if isinstance(s.dtype, pd.StringDtype):  # text already (the warehouse's strings): only fill the gaps
                X[c] = s.fillna(MISSING_CATEGORY)
            else:
                X[c] = s.astype("object").where(s.notna(), MISSING_CATEGORY).astype(str)
        elif dtypes[c] != np.float64:
            X[c] = pd.to_numeric(X[c], errors="coerce").astype(float)
    return X


def align_known(
    frame: pd.DataFrame, features: list[str], categorical: list[str], dropped: list[str] | None = None
) -> pd.DataFrame:
    """`align` on a wider table (a holdout with its other columns, a cohort's features table): only the model's
    columns are taken; a missing feature is still refused."""
    keep = {*features, *(dropped or [])}
    return align(frame[[c for c in frame.columns if c in keep]], features, categorical, dropped)


def shap_values(model: Model, X: pd.DataFrame, categorical: list[str]) -> np.ndarray:
    """Per-row SHAP values (log-odds), CatBoost's exact TreeSHAP (or a linear model's exact closed form); the last
    column is the expected value.

    CatBoost's come from the model's leaf table (`treeshap.ShapTable`, made once per model: the same values, 6-50x
    faster than asking CatBoost per call) and, for a model the table does not read, from CatBoost itself. A
    calibrated model's log-odds are scale x raw + bias: both give the trees' raw contributions (CatBoost computes
    SHAP only at scale 1, so from an unscaled twin of the model, made once), scaled back here so they sum to the
    calibrated log-odds."""
    if isinstance(model, LinearModel):
        return model.contributions(X)
    data = pool(X, categorical)
    scale, bias = model.get_scale_and_bias()
    table = shap_table(model)
    if table is not None:
        raw = table.values(model.calc_leaf_indexes(data))
    else:
        # Precomputing each leaf's contributions pays from about a thousand rows (4x faster at 2,000, measured);
        # one row is faster without (CatBoost's "Auto" picks so).
        mode = "UsePreCalc" if len(X) >= PRECALC_ROWS else "Auto"
        if scale == 1.0:
            return np.asarray(model.get_feature_importance(data, type="ShapValues", shap_mode=mode))
        twin = getattr(model, _TWIN, None)
        if twin is None:
            twin = model.copy()
            twin.set_scale_and_bias(1.0, 0.0)
            setattr(model, _TWIN, twin)  # never mutate the served model itself: other threads predict with it
        raw = np.asarray(twin.get_feature_importance(data, type="ShapValues", shap_mode=mode))
    sv = raw * scale
    sv[:, -1] += bias
    return sv


def shap_table(model: CatBoostClassifier) -> ShapTable | None:
    """The model's SHAP leaf table, made on first use and kept with the model (None: CatBoost computes them)."""
    if not hasattr(model, _TABLE):
        setattr(model, _TABLE, ShapTable.of(model))  # two threads may both make it: the same table, no harm
    table: ShapTable | None = getattr(model, _TABLE)
    return table


_TWIN = "_riskops_unscaled_twin"
_TABLE = "_riskops_shap_table"
PRECALC_ROWS = 1000
FEW_ROWS = 64
