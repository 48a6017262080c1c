"""Training, evaluation and the registry on a small real cohort, and every bad-input case of the model core."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskops.core.errors import ArtifactError, DataContractError, RiskOpsError, UnusableDataError
from riskops.features.engineering import LABEL_COLUMN, build_features, read_features
from riskops.io.artifacts import LocalStore
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from riskops.model.config import CostMatrix, TrainConfig
from riskops.model.evaluate import at_threshold, choose_thresholds, expected_cost
from riskops.model.inputs import align
from riskops.model.registry import Registry
from riskops.model.train import prepare, train
from riskops.runs.candidate import reevaluate, train_and_register

FAST = TrainConfig(folds=3, trials=2, tuning_timeout_s=30, tuning_folds=2, max_iterations=60, seed=1)
AS_OF = date(2026, 9, 30)


@pytest.fixture(scope="module")
def frame(ingested: DuckDBWarehouse) -> tuple[pd.DataFrame, list[str], list[str]]:
    from riskops.data.contract import as_of_cutoff

    fs = build_features(ingested, "labelled", as_of_cutoff(AS_OF))
    return read_features(ingested, "labelled"), fs.names, fs.categorical


def _toy(n: int = 200, positives: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "x": rng.normal(size=n),
            "k": ["a"] * n,
            "z": [None] * n,
            LABEL_COLUMN: [1] * positives + [0] * (n - positives),
        }
    )


def test_constant_and_null_features_are_dropped_and_said() -> None:
    ds = prepare(_toy(), ["x", "k", "z"], ["k"])
    assert list(ds.X.columns) == ["x"] and ds.dropped == {"k": "constant", "z": "all null"}


@pytest.mark.parametrize(
    ("frame_", "message"),
    [
        (_toy().iloc[0:0], "no labelled customers"),
        (_toy().assign(label=0), "all 200 customers are ACTIVE"),
        (_toy().assign(label=1), "all 200 customers are SUSPENDED"),
        (_toy(positives=3), "too few customers of one class"),
        (_toy().assign(x=np.nan), "every feature is null or constant"),
    ],
)
def test_untrainable_data_stops_with_a_specific_error(frame_: pd.DataFrame, message: str) -> None:
    with pytest.raises(UnusableDataError, match=message):
        prepare(frame_, ["x", "k", "z"], ["k"])


def test_scoring_columns_must_match_the_model() -> None:
    frame_ = pd.DataFrame({"customer_id": ["a"], "x": [1.0], "extra": [2]})
    with pytest.raises(DataContractError) as e:
        align(frame_, ["x", "y"], [])
    assert "missing ['y']" in str(e.value) and "unexpected ['extra']" in str(e.value)
    assert list(align(frame_.drop(columns="extra"), ["x"], []).columns) == ["x"]


def test_thresholds_match_brute_force() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(500) < 0.1).astype(int)
    p = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1).round(3)
    costs = CostMatrix(missed_cost=1000, offboard_cost=100)
    th = choose_thresholds(y, p, costs)
    candidates = np.r_[np.unique(p), 1.01]
    best = min(expected_cost(y, p, t, costs) for t in candidates)
    assert expected_cost(y, p, th.cost_optimal, costs) == best
    f1s = [at_threshold(y, p, t, costs)["f1"] for t in candidates]
    assert at_threshold(y, p, th.f1_optimal, costs)["f1"] == pytest.approx(max(f1s))
    # The cost-optimal threshold is never more expensive than the F1-optimal one on the same data.
    assert expected_cost(y, p, th.cost_optimal, costs) <= expected_cost(y, p, th.f1_optimal, costs)


def test_training_scheme_is_honest_and_deterministic(frame: tuple[pd.DataFrame, list[str], list[str]]) -> None:
    df, names, cats = frame
    ds = prepare(df, names, cats)
    r1 = train(ds, FAST)
    r2 = train(ds, FAST)
    assert set(r1.cv) == {"catboost", "logistic_regression", "random_forest"}
    assert set(r1.imbalance_comparison) == {"none", "class_weights", "oversample"}
    assert not set(r1.holdout_ids) & set(r1.oof_ids)  # tuning and thresholds never see the holdout
    assert len(r1.holdout_ids) + len(r1.oof_ids) == len(ds.y)
    assert not np.isnan(r1.oof_p).any()
    np.testing.assert_allclose(r1.oof_p, r2.oof_p)
    assert r1.params == r2.params
    assert 0.6 < r1.cv["catboost"]["roc_auc_mean"] < 0.999  # learns something, does not see the label


def test_default_parameters_are_cross_validated_once(
    frame: tuple[pd.DataFrame, list[str], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The imbalance comparison already cross-validates the default parameters: when they stay (no tuning), the
    CV reuses those folds: the fits are the comparison's folds and the final model."""
    import riskops.model.train as training

    df, names, cats = frame
    ds = prepare(df, names, cats)
    fits: list[int] = []
    fit = training.fit_catboost

    def counted(*args: object) -> object:  # every fit still runs; this only counts them
        fits.append(1)
        return fit(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(training, "fit_catboost", counted)
    cfg = FAST.model_copy(update={"trials": 0, "imbalance": "none", "baselines": False})
    result = train(ds, cfg)
    assert len(fits) == cfg.folds + 1
    assert result.cv["catboost"] == result.imbalance_comparison["none"]


def test_a_large_books_selection_runs_on_a_sample_and_the_final_fit_on_all(
    frame: tuple[pd.DataFrame, list[str], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above `selection_rows` development customers the comparison and the CV run on a stratified sample (its
    suspended share kept); the shipped model is still fit on every development customer."""
    import riskops.model.train as training

    df, names, cats = frame
    ds = prepare(df, names, cats)
    sizes: list[int] = []
    fit = training.fit_catboost

    def counted(ds_: object, idx: np.ndarray, *args: object) -> object:
        sizes.append(len(idx))
        return fit(ds_, idx, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(training, "fit_catboost", counted)
    cfg = FAST.model_copy(update={"trials": 0, "imbalance": "none", "baselines": False, "selection_rows": 300})
    result = train(ds, cfg)
    assert result.rows["selection"] == len(result.oof_ids) == 300 < result.rows["development"]
    assert sizes[-1] == result.rows["development"] and max(sizes[:-1]) < 300  # folds on the sample, final on all
    share = ds.y[np.isin(ds.ids, result.oof_ids)].mean()
    assert share == pytest.approx(ds.y.mean(), abs=0.01) and not set(result.oof_ids) & set(result.holdout_ids)
    assert training.selection_sample(ds.y, np.arange(50), 300, 0).tolist() == list(range(50))  # small: all


def test_train_register_gate_promote_rollback(ingested: DuckDBWarehouse, tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    card1, gate1 = train_and_register(ingested, store, AS_OF, FAST, CostMatrix())
    assert gate1.promote and gate1.reason == "no champion yet"
    reg = Registry(store)
    assert reg.champion() == card1.version
    assert store.exists(f"models/{card1.version}/evaluation/report.html")
    for png in ("roc", "pr", "calibration", "cost", "shap_summary"):
        assert store.read_bytes(f"models/{card1.version}/evaluation/{png}.png")[:4] == b"\x89PNG"
    assert card1.threshold == card1.thresholds["cost_optimal"]
    assert card1.features and card1.rows["holdout"] > 0 and card1.code_version

    # A challenger that must gain 1.0 PR-AUC can never pass the gate.
    card2, gate2 = train_and_register(ingested, store, AS_OF, FAST.model_copy(update={"seed": 2}), margin=1.0)
    assert not gate2.promote and "does not beat champion" in gate2.reason
    assert gate2.champion_score is not None and reg.champion() == card1.version
    assert reg.versions() == sorted([card1.version, card2.version])  # before the tie below

    # The same training again makes the same model: a tie keeps the champion.
    _, gate3 = train_and_register(ingested, store, AS_OF, FAST, CostMatrix())
    assert gate3.challenger_score == gate3.champion_score and not gate3.promote, gate3.reason
    assert reg.champion() == card1.version

    good_1 = store.read_bytes(f"models/{card1.version}/model.cbm")
    reg.set_champion(card2.version, "by hand")
    assert reg.champion() == card2.version
    assert reg.rollback() == card1.version and reg.champion() == card1.version
    assert [h["version"] for h in reg.history()] == [card1.version, card2.version, card1.version]
    assert not list(tmp_path.rglob("*.tmp"))

    # A damaged model can neither become the champion nor be rolled back to (hostile-input finding 4).
    good = store.read_bytes(f"models/{card2.version}/model.cbm")
    store.write_bytes(f"models/{card2.version}/model.cbm", bytes(range(256)) * 40)
    with pytest.raises(ArtifactError, match=f"model version {card2.version} does not load"):
        reg.set_champion(card2.version, "by hand")
    assert reg.champion() == card1.version and len(reg.history()) == 3
    store.write_bytes(f"models/{card2.version}/model.cbm", good)
    reg.set_champion(card2.version, "by hand again")
    store.write_bytes(f"models/{card1.version}/model.cbm", b"not a model")
    with pytest.raises(RiskOpsError, match=f"no earlier champion still loads: {card1.version}"):
        reg.rollback()
    assert reg.champion() == card2.version

    # Re-evaluation with another cost matrix moves the threshold's economics, not the model.
    store.write_bytes(f"models/{card1.version}/model.cbm", good_1)
    _, uri = reevaluate(store, card1.version, CostMatrix(missed_cost=50_000, offboard_cost=10))
    assert uri.endswith("report.html") and Path(uri).exists()


def test_registry_errors(tmp_path: Path) -> None:
    reg = Registry(LocalStore(tmp_path))
    assert reg.champion() is None and reg.versions() == []
    with pytest.raises(ArtifactError, match="model version nope not found"):
        reg.set_champion("nope", "x")
    with pytest.raises(RiskOpsError, match="no earlier champion"):
        reg.rollback()
