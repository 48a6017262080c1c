"""The logistic-regression baseline as a model that ships: when the policy chooses it (`family:` in the policy
file), scoring, the service, the book and the reasons run on it as they do on CatBoost.

It is the CV baseline's own scikit-learn pipeline (`model.train.baseline`), fitted on the development set and
calibrated like CatBoost (Platt scaling folded into the coefficients: a calibrated logistic regression is still
one). Its SHAP contributions are exact and closed-form: for a linear model on independent inputs, a feature's
contribution is its coefficients times (its transformed values - their mean over the training rows), summed over
the columns the preprocessing made of it (a category's one-hot columns, a number's missing indicator); with the
intercept plus the coefficients times those means as the expected value they sum to the log-odds, as CatBoost's do.

Saved with skops (`model.skops`), which loads only the types it is told to trust, not pickle's anything."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import skops.io as sio
from sklearn.pipeline import Pipeline

from riskops.core.errors import ArtifactError

FAMILY = "logistic_regression"
FILE = "model.skops"


def signed_log(x: np.ndarray) -> np.ndarray:
    """Heavy-tailed amounts and counts on a log scale, sign kept (the baseline's numeric transform)."""
    return np.sign(x) * np.log1p(np.abs(x))


# What `from_bytes` trusts beyond skops' defaults: the pipeline's own function and numpy's dtype (the imputer's
# fitted dtype), nothing else.
_TRUSTED = [f"{signed_log.__module__}.{signed_log.__name__}", "numpy.dtype"]


class LinearModel:
    """A fitted baseline pipeline (a `pre` ColumnTransformer with `num` and `cat` blocks, a `clf`
    LogisticRegression) with what scoring needs: probabilities, contributions, calibration."""

    family = FAMILY

    def __init__(self, pipeline: Pipeline, features: list[str], background: np.ndarray) -> None:
        self.pipeline, self.features, self.background = pipeline, list(features), np.asarray(background, float)
        self._owner = self._owners()

    @classmethod
    def fit(cls, pipeline: Pipeline, X: pd.DataFrame, y: np.ndarray) -> LinearModel:
        pipeline.fit(X, y)
        # ravel: a sparse transform (mostly one-hot columns) gives its mean as a 1 x n matrix
        background = np.asarray(pipeline.named_steps["pre"].transform(X).mean(axis=0)).ravel()
        return cls(pipeline, list(X.columns), background)

    def _owners(self) -> np.ndarray:
        """For each transformed column, the index (in `features`) of the feature it was made from."""
        pre = self.pipeline.named_steps["pre"]
        index = {f: i for i, f in enumerate(self.features)}
        owner = np.full(len(self.background), -1)
        for name, block, columns in pre.transformers_:
            if name not in ("num", "cat") or not len(columns):
                continue
            if name == "num":  # the imputed columns in order, then a missing indicator per column that had gaps
                imputer = block.steps[0][1]
                made = list(columns) + [
                    columns[j] for j in (imputer.indicator_.features_ if imputer.indicator_ else [])
                ]
            else:  # each category's one-hot columns (frequent categories, then one for the infrequent ones)
                enc = block.steps[-1][1]
                made = []
                for j, c in enumerate(columns):
                    rare = enc.infrequent_categories_[j]
                    made += [c] * (len(enc.categories_[j]) - (0 if rare is None else len(rare) - 1))
            where = pre.output_indices_[name]
            if where.stop - where.start != len(made):
                raise ValueError(f"the {name} block makes {where.stop - where.start} columns, expected {len(made)}")
            owner[where] = [index[c] for c in made]
        if (owner < 0).any():
            raise ValueError("a transformed column has no feature")
        return owner

    def frame(self, X: pd.DataFrame | list[list[Any]]) -> pd.DataFrame:
        return X if isinstance(X, pd.DataFrame) else pd.DataFrame(X, columns=self.features)

    def log_odds(self, X: pd.DataFrame | list[list[Any]]) -> np.ndarray:
        return np.asarray(self.pipeline.decision_function(self.frame(X)), dtype=float)

    def predict_proba(self, X: pd.DataFrame | list[list[Any]], thread_count: int | None = None) -> np.ndarray:
        """Like CatBoost's: two columns, the second the probability of SUSPENDED (`thread_count` is unused)."""
        return np.asarray(self.pipeline.predict_proba(self.frame(X)))

    def contributions(self, X: pd.DataFrame) -> np.ndarray:
        """Exact SHAP values in log-odds, one column per feature and the expected value last (CatBoost's shape)."""
        clf = self.pipeline.named_steps["clf"]
        w = clf.coef_[0]
        z = np.asarray(self.pipeline.named_steps["pre"].transform(self.frame(X)), dtype=float)
        per_column = (z - self.background) * w
        out = np.zeros((len(z), len(self.features) + 1))
        np.add.at(out.T, self._owner, per_column.T)  # sum each feature's columns
        out[:, -1] = clf.intercept_[0] + float(w @ self.background)
        return out

    def recalibrate(self, slope: float, intercept: float) -> None:
        """Log-odds -> slope x log-odds + intercept, folded into the coefficients."""
        clf = self.pipeline.named_steps["clf"]
        clf.coef_ = clf.coef_ * slope
        clf.intercept_ = clf.intercept_ * slope + intercept

    def to_bytes(self) -> bytes:
        return bytes(sio.dumps({"pipeline": self.pipeline, "features": self.features, "background": self.background}))

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> LinearModel:
        """A saved model, refused (naming the types) if it holds anything but scikit-learn, numpy and
        `signed_log`: a model file is code's input, not code."""
        try:
            untrusted = [t for t in sio.get_untrusted_types(data=data) if t not in _TRUSTED]
            if untrusted:
                raise ArtifactError(
                    f"model file holds types it may not: {untrusted[:5]}",
                    where,
                    "retrain the version; never copy model files from elsewhere",
                )
            saved = sio.loads(data, trusted=_TRUSTED)
            return cls(saved["pipeline"], saved["features"], saved["background"])
        except ArtifactError:
            raise
        except Exception as e:  # skops and scikit-learn raise their own types for a damaged file
            raise ArtifactError(
                f"model file does not load: {type(e).__name__}: {str(e)[:200]}",
                where,
                "retrain the version; a damaged model cannot be served",
            ) from e
