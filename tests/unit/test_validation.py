"""The validation pack (issue: model governance): each section's figures come from real computations a
validator can re-check - the out-of-time model from features rebuilt as of a real earlier cut-off, a scorecard
whose points add up to its scores, a sensitivity that changes nothing at zero noise."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskops.io.artifacts import LocalStore
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from riskops.model.approval import Approvals
from riskops.model.config import CostMatrix, TrainConfig, ValidationPolicy
from riskops.model.pack import Section, read_pack
from riskops.model.registry import Registry
from riskops.model.validation import fit_scorecard, out_of_time, points_sum, sensitivity, worst
from riskops.runs.candidate import train_and_register
from riskops.runs.monitor import Performance, against_approval, approved_ranges, listed_share_ratios
from riskops.runs.validate import OOT_TABLE, first_transaction, oot_cutoff, validate_version

AS_OF = date(2026, 9, 30)
FAST = TrainConfig(folds=2, trials=0, max_iterations=60, seed=1)


@pytest.fixture(scope="module")
def validated(ingested: DuckDBWarehouse, tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalStore, str]:
    store = LocalStore(tmp_path_factory.mktemp("validation"))
    card, _ = train_and_register(ingested, store, AS_OF, FAST, CostMatrix())
    return store, card.version


def data_rows(store: LocalStore, version: str) -> dict[str, int]:
    return Registry(store).card(version).rows


def test_the_pack_is_written_whole_and_judged_by_its_worst_section(
    ingested: DuckDBWarehouse, validated: tuple[LocalStore, str]
) -> None:
    store, version = validated
    before = Approvals(store, "models").evidence(version)
    pack = validate_version(ingested, store, version)
    assert [s.name for s in pack.sections] == [
        "data", "out_of_time", "benchmark", "stability", "weak_spots", "sensitivity", "fairness", "limitations"
    ]  # fmt: skip
    assert pack.status == worst([s.status for s in pack.sections]) and all(s.reading for s in pack.sections)
    base = Path(store.uri(f"models/{version}/validation"))
    for name in ("pack.json", "pack.md", "pack.html", "oot.png", "benchmark.png", "stability.png", "sensitivity.png"):
        assert (base / name).stat().st_size > 0, name
    assert (base / "pack.pdf").read_bytes()[:5] == b"%PDF-"
    assert read_pack(store, version) == pack
    assert Approvals(store, "models").evidence(version) != before  # an approval covers the pack too
    assert not ingested.exists(OOT_TABLE)

    spots = pack.section("weak_spots").figures  # overfit per segment: development against holdout
    assert sum(s["holdout"]["customers"] for s in spots["segments"]) == data_rows(store, version)["holdout"]
    assert spots["gap"] == pytest.approx(spots["train_roc_auc"] - spots["holdout_roc_auc"])
    data = pack.section("data").figures
    assert (
        data["rows"]["customers"] == 1200
        and data["features"] > 0
        and sum(data["families"].values()) == data["features"]
    )


def test_out_of_time_is_a_real_earlier_cut_off(ingested: DuckDBWarehouse, validated: tuple[LocalStore, str]) -> None:
    store, version = validated
    pack = read_pack(store, version) or validate_version(ingested, store, version)
    oot = pack.section("out_of_time").figures
    signups = ingested.query("SELECT customer_id, signup_ts FROM labelled_customers").to_pandas()
    joined = pd.Series(pd.to_datetime(signups["signup_ts"], utc=True).to_numpy(), index=signups["customer_id"])
    cutoff = oot_cutoff(joined, ValidationPolicy(), first_transaction(ingested))
    assert oot["cutoff"] == str(cutoff.date()) and cutoff.date() < AS_OF
    before, after = int((joined < cutoff).sum()), int((joined >= cutoff).sum())
    assert oot["out_of_time"]["customers"] == after and after >= 0.05 * len(joined)
    assert oot["trained_on"] + oot["in_time"]["customers"] == before  # only customers who had joined by then
    for side in ("in_time", "out_of_time"):
        assert 0 < oot[side]["roc_auc"] <= 1 and oot[side]["positives"] > 0


def test_the_scorecards_points_add_up_to_its_scores_and_the_lead_has_an_interval(
    ingested: DuckDBWarehouse, validated: tuple[LocalStore, str]
) -> None:
    store, version = validated
    pack = read_pack(store, version) or validate_version(ingested, store, version)
    assert pack is not None
    bench = pack.section("benchmark").figures
    assert bench["points_sum_error"] < 1e-6
    assert bench["information_value"] and all(v >= 0 for v in bench["information_value"].values())
    lo, hi = bench["lead_interval"]
    assert lo <= bench["lead"] <= hi and bench["lead"] == pytest.approx(
        bench["champion_pr_auc"] - bench["scorecard_pr_auc"]
    )
    assert {"variable", "bin", "points", "woe", "iv"} <= set(bench["points_table"][0])


def test_a_scorecard_by_hand() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.choice(["x", "y", "z"], 3000)})
    y = (rng.random(3000) < 1 / (1 + np.exp(-(2 * X["a"] + (X["b"] == "x") - 3)))).astype(int).to_numpy()
    X.loc[::50, "a"] = np.nan  # missing values get their own bin and points
    card = fit_scorecard(X, y, ["b"])
    assert np.allclose(points_sum(card, X), card.score(X))


def test_sensitivity_is_exact_at_zero_noise_and_moves_with_it(
    ingested: DuckDBWarehouse, validated: tuple[LocalStore, str]
) -> None:
    store, version = validated
    pack = read_pack(store, version) or validate_version(ingested, store, version)
    assert pack is not None
    noise = pack.section("sensitivity").figures["noise"]
    assert noise and {r["noise"] for r in noise} == {0.0, ValidationPolicy().noise}
    for r in noise:
        if r["noise"] == 0:
            assert r["overlap"] == 1.0 and r["rank_correlation"] == pytest.approx(1.0)
    costs = pack.section("sensitivity").figures["costs"]
    assert [r["missed_cost_factor"] for r in costs] == [0.5, 1.5]
    assert costs[0]["threshold"] >= costs[1]["threshold"]  # missing a bad customer costs more: list more


def test_sensitivity_on_a_known_model() -> None:
    """A model told to ignore `b`: noise on `a` moves the list, noise on `b` cannot."""
    from catboost import CatBoostClassifier

    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000)})
    y = (rng.random(2000) < 1 / (1 + np.exp(-3 * X["a"]))).astype(int).to_numpy()
    model = CatBoostClassifier(iterations=60, ignored_features=["b"], verbose=False, random_seed=0).fit(X, y)
    p = model.predict_proba(X)[:, 1]
    s = sensitivity(model, X, y, p, [], 0.7, CostMatrix(), ["a", "b"], ValidationPolicy(noise=0.5))
    by = {(r["feature"], r["noise"]): r for r in s.figures["noise"]}
    assert by[("b", 0.5)]["overlap"] == 1.0 and by[("a", 0.0)]["overlap"] == 1.0
    assert by[("a", 0.5)]["overlap"] < 0.9 and by[("a", 0.5)]["rank_correlation"] < 0.99
    assert s.figures["fragile"] == [by[("a", 0.5)]] and s.status == "warn"


def test_worst_orders_the_statuses() -> None:
    assert worst(["pass", "n/a", "warn"]) == "warn" and worst(["fail", "pass"]) == "fail" and worst([]) == "n/a"
    assert Section(name="x", title="X", status="pass", reading="r", figures={}).status == "pass"


def _performance(run_id: str, version: str, roc_auc: float, matured: bool = True) -> Performance:
    return Performance(
        run_id=run_id, model_version=version, as_of="2026-09-30", mature_on="2026-12-29", matured=matured,
        customers=300, excluded_decided_before=0, suspended=15, listed=20, precision=0.5, recall=0.6,
        roc_auc=roc_auc, pr_auc=0.4, brier=0.04, observed_rate=0.05, mean_score=0.05, expected_precision=0.5,
        expected_recall=0.6,
    )  # fmt: skip


def test_monitoring_holds_an_approved_model_to_its_pack(
    ingested: DuckDBWarehouse, validated: tuple[LocalStore, str]
) -> None:
    """Realized ROC-AUC under, or score drift over, what the pack approved is flagged with who approved it; an
    unapproved model has no approved range to leave."""
    store, version = validated
    registry = Registry(store)
    if read_pack(store, version) is None:
        validate_version(ingested, store, version)
    assert approved_ranges(registry, version) is None  # not approved yet
    registry.approvals.decide(version, "approved", "vic", "pack read", registered_by="dana")
    ranges = approved_ranges(registry, version)
    assert ranges is not None and ranges["approved_by"] == "vic"
    pack = read_pack(store, version)
    assert pack is not None
    oot = pack.section("out_of_time").figures["out_of_time"]["roc_auc"]
    holdout = registry.card(version).metrics["roc_auc"]
    assert ranges["roc_auc_min"] == pytest.approx(min(oot, holdout) - pack.policy.oot_auc_drop_warn)
    runs = [
        _performance("r1", version, ranges["roc_auc_min"] + 0.01),
        _performance("r2", version, ranges["roc_auc_min"] - 0.05),
        _performance("r3", version, 0.1, matured=False),  # partial figures are not judged
    ]
    checks = against_approval(registry, runs, {"score_psi": ranges["score_psi_max"] + 0.2})
    assert [(c["run_id"], c["what"], c["inside"]) for c in checks] == [
        ("r1", "realized ROC-AUC", True),
        ("r2", "realized ROC-AUC", False),
        ("r3", "score PSI", False),
    ]
    assert all(c["approved_by"] == "vic" for c in checks)
    assert against_approval(registry, [_performance("r4", "m-unknown", 0.1)], {}) == []


def test_monitoring_holds_the_live_lists_fairness_to_the_approved_one(
    ingested: DuckDBWarehouse, validated: tuple[LocalStore, str], tmp_path: Path
) -> None:
    """The latest run's listed share per protected group (no outcome needed) against the pack's ratio less the
    tolerance: a list that now lists men five times as often as women leaves the approved range."""
    import pyarrow as pa

    store, version = validated
    registry = Registry(store)
    pack = read_pack(store, version) or validate_version(ingested, store, version)
    if registry.approvals.state(version) != "approved":
        registry.approvals.decide(version, "approved", "vic", "pack read", registered_by="dana")
    fair = pack.section("fairness")
    fair.figures = {"sex": {"parity_ratio": 0.9, "odds_difference": 0.05, "breaches": [], "groups": {}}}
    store.write_text(f"models/{version}/validation/pack.json", pack.model_dump_json())
    ranges = approved_ranges(registry, version)
    assert ranges is not None and ranges["parity_ratio_min"] == {"sex": pytest.approx(0.8)}

    ids = [f"u{i}" for i in range(1000)]
    sex = ["F"] * 500 + ["M"] * 500
    listed = [i % 50 == 0 for i in range(500)] + [i % 10 == 0 for i in range(500)]  # 2% of women, 10% of men
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh:
        wh.load("unlabelled_customers", pa.table({"customer_id": ids, "sex": sex}))
        scores = pd.DataFrame({"customer_id": ids, "score": 0.1, "offboard": listed})
        store.write_bytes("r9/scores.parquet", scores.to_parquet(index=False))
        ratios = listed_share_ratios(wh, store, "r9", ["sex"])
    assert ratios == {"sex": pytest.approx(0.2)}
    checks = against_approval(registry, [_performance("r9", version, 0.99)], {}, ratios)
    said = {c["what"]: c for c in checks}
    assert said["sex: listed-share ratio"]["inside"] is False and said["realized ROC-AUC"]["inside"] is True


def test_out_of_time_warns_when_the_earlier_book_had_less_history() -> None:
    perf = {"customers": 500, "positives": 40, "roc_auc": 0.8}
    full = out_of_time("2025-03-01", perf, perf | {"roc_auc": 0.79}, ValidationPolicy(), "SUSPENDED", (400, 365))
    assert full.status == "pass" and "a drop of 0.010" in full.reading
    short = out_of_time("2025-03-01", perf, perf | {"roc_auc": 0.79}, ValidationPolicy(), "SUSPENDED", (120, 365))
    assert short.status == "warn" and "only 120 days before 2025-03-01" in short.reading
    none = out_of_time("2025-03-01", perf, perf, ValidationPolicy(), "defaulted", (-200, 365))
    assert none.status == "warn" and "no transactions before 2025-03-01" in none.reading


def test_the_cut_off_moves_later_to_give_the_earlier_book_history() -> None:
    signup = pd.Series(pd.date_range("2020-01-01", "2026-03-01", periods=1000, tz="UTC"))
    policy = ValidationPolicy()
    assert oot_cutoff(signup, policy) == pd.Timestamp(signup.quantile(0.8)).normalize()  # no history known
    late = pd.Timestamp("2025-04-02", tz="UTC")  # transactions begin long after the fifth-latest signups
    moved = oot_cutoff(signup, policy, late)
    assert moved == pd.Timestamp("2025-07-01", tz="UTC") and (signup >= moved).mean() >= policy.oot_min_share
    too_late = pd.Timestamp("2026-02-01", tz="UTC")  # moving would leave almost nobody to test on: it stays
    assert oot_cutoff(signup, policy, too_late) == pd.Timestamp(signup.quantile(0.8)).normalize()
