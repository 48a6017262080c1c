"""Behavioural tests of the trained model, as model codebases write them: the score moves the way the data says a
risk feature should move it, does not depend on a customer's id or on the order of the rows, and the same data
gives the same model."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from riskops.data.contract import as_of_cutoff
from riskops.features.engineering import build_features, read_features
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from riskops.model.config import TrainConfig
from riskops.model.inputs import predict
from riskops.model.train import Dataset, TrainResult, prepare, train

FAST = TrainConfig(folds=3, trials=0, max_iterations=80, baselines=False, imbalance="none", seed=1)


@pytest.fixture(scope="module")
def trained(ingested: DuckDBWarehouse) -> tuple[Dataset, TrainResult]:
    fs = build_features(ingested, "labelled", as_of_cutoff(date(2026, 9, 30)))
    ds = prepare(read_features(ingested, "labelled"), fs.names, fs.categorical)
    return ds, train(ds, FAST)


def _score(r: TrainResult, X: pd.DataFrame) -> np.ndarray:
    return predict(r.model, X[r.features], r.categorical)


# What a bad actor does in the synthetic book by construction (riskops.data.synth): mules move money straight
# through; some send sizeable sums to high-risk corridors; fraudsters collect chargebacks. (Attributes only tilt
# who is a bad actor; on the test book's 1,200 customers the model rightly leans on behaviour instead.)
RISKY = ("pass_through_2d_90d", "high_risk_out_sum_365d", "chargeback_reversed_count_365d")


@pytest.mark.parametrize("feature", RISKY)
def test_the_score_rises_with_a_risk_feature(trained: tuple[Dataset, TrainResult], feature: str) -> None:
    """Every holdout customer given the feature's low value (its minimum), then a high one (its 99th percentile):
    the mean score is higher with the high value."""
    ds, r = trained
    assert feature in r.features, f"{feature} is not a model feature: {r.features}"
    low, high = ds.X[feature].min(), ds.X[feature].quantile(0.99)
    assert high > low
    rises = (
        _score(r, r.holdout_X.assign(**{feature: high})).mean() - _score(r, r.holdout_X.assign(**{feature: low})).mean()
    )
    assert rises > 0, (feature, low, high, rises)


def test_the_score_does_not_depend_on_the_id_or_the_row_order(trained: tuple[Dataset, TrainResult]) -> None:
    _, r = trained
    assert not {"customer_id", "account_state"} & set(r.features)
    X = r.holdout_X
    base = pd.Series(_score(r, X), index=X.index)
    shuffled = X.sample(frac=1.0, random_state=3)
    renamed = shuffled.set_axis([f"someone-else-{i}" for i in range(len(shuffled))])
    np.testing.assert_array_equal(_score(r, renamed), base.loc[shuffled.index].to_numpy())


def test_the_same_data_gives_the_same_model(trained: tuple[Dataset, TrainResult]) -> None:
    ds, r = trained
    again = train(ds, FAST)
    assert again.params == r.params and again.features == r.features
    np.testing.assert_array_equal(_score(again, r.holdout_X), _score(r, r.holdout_X))
