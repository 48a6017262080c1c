"""Protected attributes: kept out of the model, measured per group, and a breach the champion does not make
refused by the gate."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskops.data.contract import Mapping, as_of_cutoff, table_name
from riskops.data.ingest import ingest_cohort
from riskops.data.sources import dataset_as_of, load_dataset
from riskops.features.adapt import adapt
from riskops.features.engineering import FeatureConfig, build_features, read_features
from riskops.io.artifacts import LocalStore
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from riskops.model.config import TrainConfig
from riskops.model.fairness import FairnessPolicy, banded, measure, proxies
from riskops.model.registry import Registry
from riskops.runs.candidate import evaluate_candidate, fair_gate, train_candidate
from riskops.scoring.book import build_book
from riskops.scoring.offboard import score_cohort

FAST = TrainConfig(folds=3, trials=0, max_iterations=60, seed=1, baselines=False, imbalance="none")


@pytest.fixture(scope="module")
def book(small_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[DuckDBWarehouse, LocalStore, date]:
    """The small synthetic book with a `sex` attribute that follows the label (70% of the suspended are F, 30%
    of the others), declared protected."""
    root = tmp_path_factory.mktemp("fair")
    wh = DuckDBWarehouse(root / "w.duckdb")
    load_dataset(wh, small_dataset)
    for cohort in ("labelled", "unlabelled"):
        raw = wh.ref(table_name(cohort, "raw_customers"))
        wh.execute(f"ALTER TABLE {raw} ADD COLUMN sex VARCHAR")
        suspended = "account_state = 'SUSPENDED'" if cohort == "labelled" else "FALSE"
        wh.execute(
            f"UPDATE {raw} SET sex = CASE WHEN hash(customer_id) % 10 < (CASE WHEN {suspended} THEN 7 ELSE 3 "
            "END) THEN 'F' ELSE 'M' END"
        )
    as_of = date.fromisoformat(dataset_as_of(small_dataset))
    store = LocalStore(root / "store")
    for cohort in ("labelled", "unlabelled"):
        ingest_cohort(wh, cohort, as_of, store, f"v/{cohort}", Mapping(protected=["sex"]))  # type: ignore[arg-type]
    yield wh, store, as_of
    wh.close()


def _candidate(book: tuple[DuckDBWarehouse, LocalStore, date]) -> str:
    wh, store, as_of = book
    cutoff = as_of_cutoff(as_of)
    cfg = adapt(wh, "labelled", cutoff, FeatureConfig(protected=("sex",))).config
    build_features(wh, "labelled", cutoff, cfg)
    version = train_candidate(wh, store, as_of, FAST, cfg).version
    evaluate_candidate(store, version, fairness=FairnessPolicy())
    return version


def test_a_protected_attribute_is_no_feature_and_each_group_is_measured(book: tuple) -> None:
    wh, store, as_of = book
    version = _candidate(book)
    card = Registry(store).card(version)
    assert "sex" in wh.columns(table_name("labelled", "customers"))  # loaded and kept for fairness
    assert "sex" not in card.features and "sex" not in read_features(wh, "labelled").columns
    fair = card.metrics["fairness"]["sex"]
    f, m = fair["groups"]["F"], fair["groups"]["M"]
    assert f["customers"] + m["customers"] == card.metrics["holdout_rows"]
    assert f["base_rate"] > m["base_rate"] and f["listed"] > m["listed"]  # the model finds the risk sex carries
    assert fair["parity_ratio"] == pytest.approx(m["listed"] / f["listed"], abs=1e-3)
    assert any(b.startswith("sex: listed-share ratio") for b in fair["breaches"])
    report = store.read_text(f"models/{version}/evaluation/report.md")
    assert "## Fairness" in report and "**sex**" in report and "breaches" in report
    # Scoring: no reason, no rule on it.
    Registry(store).set_champion(version, "test")
    result = score_cohort(wh, store, as_of)
    listing = result.offboarding
    assert len(listing) and not listing["reasons"].str.contains("sex").any()
    # The console's book: no column, filter, comparison or neighbour dimension on it; the model's fairness shown.
    book, meta = build_book(wh, store, "unlabelled", result, "r1")
    assert "sex" not in meta.attributes and not [c for c in book.columns if "sex" in c]
    assert meta.fairness["sex"]["groups"]["F"]["listed"] == fair["groups"]["F"]["listed"]


def test_the_gate_refuses_a_fairness_breach_the_champion_does_not_make(book: tuple) -> None:
    _, store, _ = book
    registry = Registry(store)
    champion = _candidate(book)
    registry.set_champion(champion, "test")
    key = f"models/{champion}/card.json"
    card = json.loads(store.read_text(key))
    store.write_text(key, json.dumps(card | {"threshold": 0.999}))  # a champion listing nobody breaches nothing
    challenger = _candidate(book)
    passed = registry.gate(challenger, "pr_auc", margin=-1.0)  # PR-AUC alone would promote it
    assert passed.promote
    refused = fair_gate(registry, passed, FairnessPolicy())
    assert not refused.promote and "refused: fairness sex: listed-share ratio" in refused.reason, refused.reason
    warned = fair_gate(registry, passed, FairnessPolicy(on_breach="warn"))
    assert warned.promote and "warning: fairness sex" in warned.reason
    assert fair_gate(registry, passed, FairnessPolicy(min_parity_ratio=0, max_odds_difference=1)).promote


def test_groups_are_banded_and_small_groups_are_not_judged() -> None:
    ages = pd.Series([19.0, 24, 25, 40, 66, 70, 33, 52, 58, 61, 29, np.nan])
    assert banded("AGE", ages).tolist()[:6] == ["0-24", "0-24", "25-34", "35-44", "65+", "65+"]
    assert banded("AGE", ages).iloc[-1] == "unknown" and banded("sex", pd.Series([1, 2, None])).tolist()[2] == "unknown"
    y = np.array([1, 0] * 50)
    p = np.where(np.arange(100) < 90, y * 0.9, 0.95)  # the 10-customer group is all listed
    g = pd.DataFrame({"region": ["a"] * 90 + ["b"] * 10})
    out = measure(y, p, 0.5, g, FairnessPolicy(min_group=30))["region"]
    assert out["groups"]["b"]["listed"] == 1.0 and out["breaches"] == [] and out["parity_ratio"] is None


def test_proxies_are_the_features_that_tell_a_group_apart() -> None:
    rng = np.random.default_rng(3)
    sex = np.array(["F", "M"] * 200)
    X = pd.DataFrame(
        {"shoe_size": np.where(sex == "F", 38.0, 43.0) + rng.normal(0, 1.5, 400), "balance": rng.normal(1000, 200, 400)}
    )
    found = proxies(X, pd.DataFrame({"sex": sex}), FairnessPolicy())["sex"]
    assert [f["feature"] for f in found] == ["shoe_size"] and found[0]["auc"] > 0.9


def test_a_protected_attribute_the_policy_allows_is_a_feature_with_its_justification(  # the synthetic age
    small_dataset: Path, tmp_path: Path
) -> None:
    from riskops.core.errors import ConfigError
    from riskops.runs import steps
    from riskops.scoring.policy import OffboardConfig

    config = {
        "warehouse": "duckdb",
        "artifact_root": str(tmp_path / "store"),
        "duckdb_path": str(tmp_path / "w.duckdb"),
    }
    as_of = dataset_as_of(small_dataset)
    run = steps.ingest(config, "labelled", as_of, dataset_dir=str(small_dataset), mapping={"protected": ["age"]}).run_id
    steps.features(config, "labelled", as_of, run)
    assert "age" not in _feature_names(config)
    why = {"age": "affordability rules of the regulator require age bands"}
    steps.features(config, "labelled", as_of, run, why)
    assert "age" in _feature_names(config)
    chosen = json.loads((tmp_path / "store" / run / "features" / "config.json").read_text())
    assert chosen["allowed_protected"] == why and chosen["protected"] == []
    with pytest.raises(ConfigError, match=r"allow_protected names \['sex'\], which the mapping does not declare"):
        steps.features(config, "labelled", as_of, run, {"sex": "a justification that is long enough"})
    with pytest.raises(ValueError, match="need a written justification"):
        OffboardConfig(allow_protected={"age": "because"})


def _feature_names(config: dict) -> list[str]:
    with DuckDBWarehouse(config["duckdb_path"]) as wh:
        return list(wh.columns(table_name("labelled", "features")))
