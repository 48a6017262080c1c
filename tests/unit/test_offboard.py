"""Scoring a cohort with the champion: segments, rules, the off-boarding policy and reasons in words."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from riskops.core.errors import DataContractError, RiskOpsError
from riskops.features.engineering import FeatureConfig, FeatureSet, read_features
from riskops.io.artifacts import LocalStore
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from riskops.model.config import CostMatrix, TrainConfig
from riskops.model.registry import Registry
from riskops.runs.candidate import train_and_register
from riskops.runs.report import compare_runs, list_runs
from riskops.scoring.offboard import Glossary, format_value, score_cohort
from riskops.scoring.online import LoadedModel, ModelHolder, arrow_columns, score_columns
from riskops.scoring.policy import OffboardConfig, Rule

FAST = TrainConfig(folds=3, trials=0, max_iterations=60, seed=1, baselines=False, imbalance="none")
AS_OF = date(2026, 9, 30)


@pytest.fixture(scope="module")
def store(ingested: DuckDBWarehouse, tmp_path_factory: pytest.TempPathFactory) -> LocalStore:
    s = LocalStore(tmp_path_factory.mktemp("offboard"))
    train_and_register(ingested, s, AS_OF, FAST, CostMatrix())
    return s


def test_no_champion_tells_the_user_to_train_first(ingested: DuckDBWarehouse, tmp_path: Path) -> None:
    with pytest.raises(RiskOpsError) as e:
        score_cohort(ingested, LocalStore(tmp_path), AS_OF)
    assert "no champion model" in str(e.value) and "train one first" in str(e.value)


def test_segments_policy_and_reasons(ingested: DuckDBWarehouse, store: LocalStore) -> None:
    cfg = OffboardConfig(medium_factor=0.3)
    r = score_cohort(ingested, store, AS_OF, "unlabelled", cfg)
    s = r.scores
    assert len(s) == ingested.count("unlabelled_customers") and s["customer_id"].is_unique
    high, medium = r.cutoffs["high"], r.cutoffs["medium"]
    assert medium == pytest.approx(0.3 * high)
    assert (s.loc[s["score"] >= high, "segment"] == "High").all()
    assert (s.loc[s["score"] < medium, "segment"] == "Low").all()
    # Policy: every High off-boarded; Medium only with a rule; Low never.
    assert s.loc[s["segment"] == "High", "offboard"].all()
    assert not s.loc[s["segment"] == "Low", "offboard"].any()
    med = s[s["segment"] == "Medium"]
    assert (med["offboard"] == (med["rules"] != "")).all()
    assert sum(r.segment_sizes().values()) == len(s)
    # Every listed customer carries reasons in words with its own and the typical value.
    listing = r.offboarding
    assert len(listing) == int(s["offboard"].sum()) > 0
    assert listing["score"].is_monotonic_decreasing
    assert all("(typical customer: " in x for x in listing["reasons"])
    for reasons in listing["reasons"]:  # a reason says how the customer differs: never the typical value itself
        for reason in reasons.split("; "):
            value, typical = re.fullmatch(r".*: (.*) \(typical customer: (.*)\)", reason).groups()  # type: ignore[union-attr]
            assert value != typical, reason
    # Amounts carry the book's currency, the customer's and the typical customer's alike.
    said = [reason for x in listing["reasons"] for reason in x.split("; ")]
    assert any(re.search(r": [\d,.]+ EUR \(typical customer: [\d,.]+ EUR\)$", x) for x in said), said[:10]
    assert ingested.count("unlabelled_offboarding") == len(listing)
    assert ingested.count("unlabelled_scores") == len(s)


def test_rules_and_missing_rule_features(ingested: DuckDBWarehouse, store: LocalStore) -> None:
    cfg = OffboardConfig(
        rules=[
            Rule(name="everyone", feature="in_count_365d", op=">=", value=0, meaning="matches all"),
            Rule(name="ghost", feature="no_such_feature", value=1, meaning="absent"),
        ]
    )
    r = score_cohort(ingested, store, AS_OF, "unlabelled", cfg)
    assert r.rules_skipped == ["ghost (no feature no_such_feature)"]
    assert (r.scores["rules"] == "everyone").all()
    # With a rule that every customer triggers, every Medium customer is off-boarded.
    assert r.scores.loc[r.scores["segment"] == "Medium", "offboard"].all()


def test_rule_semantics_and_formatting() -> None:
    rule = Rule(name="x", feature="f", op=">", value=2.0, meaning="m")
    values = [1.0, 3.0, np.nan, None, "7", "seven", 2.0]
    assert rule.check(pd.Series(values)).tolist() == [False, True, False, False, True, False, False]
    assert [rule.fires(v) for v in values] == rule.check(pd.Series(values)).tolist()  # one value, same answer
    for op in (">=", "<=", "<"):
        r = Rule(name="x", feature="f", op=op, value=2.0, meaning="m")  # type: ignore[arg-type]
        assert [r.fires(v) for v in values] == r.check(pd.Series(values)).tolist(), op
    assert format_value("pass_through_2d_90d", 0.94) == "94%"
    assert format_value("out_sum_30d", 12345.6) == "12,346"
    assert format_value("days_since_last_tx", 3.2) == "3 days"
    assert format_value("out_in_ratio_30d", 1.234) == "1.23"
    assert format_value("country", "NG") == "NG"
    assert format_value("out_mean_30d", None) == "none"
    # A book's own attributes: integer codes and months as integers, small fractions with their decimals.
    assert format_value("EDUCATION", 2.0) == "2" and format_value("PAY_0", -1.0) == "-1"
    assert format_value("LIMIT_BAL", 20000.0) == "20,000" and format_value("utilisation", 0.437) == "0.437"
    # An amount feature reads in the book's currency, with the precision of any amount.
    assert format_value("out_sum_30d", 12345.6, "EUR") == "12,346 EUR"
    assert format_value("out_mean_30d", 90.644, "TWD") == "90.6 TWD" and format_value("x", None, "EUR") == "none"


def test_glossary_names_the_currency_of_amounts_only() -> None:
    fs = FeatureSet(FeatureConfig(currency="GBP"), {"LIMIT_BAL": "numeric"})
    g = Glossary.of(fs)
    assert g.read("out_sum_30d", 1500.0) == "1,500 GBP" and g.read("max_in_per_day_90d", 20.5) == "20.5 GBP"
    assert g.read("out_count_30d", 3.0) == "3" and g.read("LIMIT_BAL", 20000.0) == "20,000"  # no amount
    assert g.read("pass_through_2d_90d", 0.5) == "50%" and g.says("out_sum_30d").startswith("sum of")
    assert Glossary.of(FeatureSet(FeatureConfig(), {})).units == {}  # the currency not known: plain numbers


def test_runs_are_listed_and_compared(tmp_path: Path) -> None:
    s = LocalStore(tmp_path)
    base = {
        "run_id": "r1",
        "created": "t",
        "parameters": {"seed": 1, "as_of": "2026-09-30"},
        "snapshots": {"labelled": {"fingerprint": "a"}},
        "scoring": {"offboard": 10},
    }
    s.write_text("r1/run.json", json.dumps(base))
    other = base | {"run_id": "r2", "parameters": {"seed": 2, "as_of": "2026-09-30"}, "scoring": {"offboard": 12}}
    s.write_text("r2/run.json", json.dumps(other))
    s.write_text("models/m1/card.json", "{}")
    assert [r["run_id"] for r in list_runs(s)] == ["r1", "r2"]
    assert compare_runs(base, other) == [("parameters.seed", 1, 2), ("scoring.offboard", 10, 12)]


def _served(store: LocalStore) -> LoadedModel:
    from riskops.model.registry import Registry

    holder = ModelHolder(Registry(store))
    assert holder.refresh() and holder.current is not None
    return holder.current


def test_columns_from_json_or_arrow_score_as_the_batch_list(ingested: DuckDBWarehouse, store: LocalStore) -> None:
    m = _served(store)
    batch = score_cohort(ingested, store, AS_OF, "unlabelled").scores.set_index("customer_id")
    frame = read_features(ingested, "unlabelled").head(50)
    cols = {c: [None if isinstance(v, float) and v != v else v for v in frame[c].tolist()] for c in m.card.features}
    ids = frame["customer_id"].tolist()
    from_json = score_columns(m, cols, ids, OffboardConfig())
    table = pa.table({"customer_id": ids} | cols)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    arrow_ids, arrow_cols = arrow_columns(sink.getvalue().to_pybytes(), 100)
    from_arrow = score_columns(m, arrow_cols, arrow_ids, OffboardConfig())
    for scored in (from_json, from_arrow):
        assert scored["score"].to_numpy() == pytest.approx(batch.loc[ids, "score"].to_numpy(), abs=1e-12)
        assert scored["segment"].tolist() == batch.loc[ids, "segment"].tolist()


def test_bad_columns_are_refused_naming_the_feature_and_row(store: LocalStore) -> None:
    m = _served(store)
    numeric = next(f for f in m.card.features if f not in m.card.categorical)
    categorical = m.card.categorical[0]
    good: dict[str, list[Any]] = {f: ["x", "y"] if f in m.card.categorical else [1.0, None] for f in m.card.features}
    for column, values, expected in [
        (numeric, [1.0, "lots"], f"feature {numeric}, row 1"),
        (numeric, [float("inf"), 1.0], f"feature {numeric}, row 0"),
        (numeric, [[1.0], 2.0], f"feature {numeric}, row 0"),
        (numeric, [10**400, 1.0], f"feature {numeric}, row 0"),
        (categorical, ["x", 3.5], f"feature {categorical}, row 1"),
    ]:
        with pytest.raises(DataContractError, match=re.escape(expected)):
            score_columns(m, good | {column: values}, ["a", "b"], OffboardConfig())
    with pytest.raises(DataContractError, match="unexpected \\['surprise'\\]"):
        score_columns(m, good | {"surprise": [1, 2]}, ["a", "b"], OffboardConfig())
    for body, message in [
        (b"not arrow", "not a readable Arrow IPC stream"),
        (_ipc(pa.table({"x": [1.0]})), "no string column customer_id"),
        (_ipc(pa.table({"customer_id": ["a"] * 3, "x": [1.0] * 3})), "3 rows"),
    ]:
        with pytest.raises(DataContractError, match=message):
            arrow_columns(body, 2)


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def test_shards_give_the_list_one_task_gives_and_capacity_applies_to_the_whole(
    ingested: DuckDBWarehouse, store: LocalStore
) -> None:
    from riskops.scoring.offboard import scoring_version
    from riskops.scoring.shards import gather, score_shard

    version = scoring_version(Registry(store))
    cfg = OffboardConfig(medium_factor=0.3)

    def scored(shards: int, policy: OffboardConfig) -> Any:
        sizes = [
            len(score_shard(ingested, store, AS_OF, "unlabelled", k, shards, version, policy).scores)
            for k in range(shards)
        ]
        return sizes, gather(ingested, store, "unlabelled", shards, [version] * shards, policy)

    sizes1, one = scored(1, cfg)
    sizes3, three = scored(3, cfg)
    assert sum(sizes3) == sizes1[0] == ingested.count("unlabelled_customers") and min(sizes3) > 0
    assert three.offboarding["customer_id"].tolist() == one.offboarding["customer_id"].tolist()
    assert three.offboarding["reasons"].tolist() == one.offboarding["reasons"].tolist()  # the holdout's typical
    assert three.scores.equals(one.scores)
    left = [t for t in ingested.con.execute("SHOW TABLES").fetchnumpy()["name"] if "of3_" in t]
    assert left == []  # the shards' views and tables are gone
    capped = cfg.model_copy(update={"capacity": 3})
    _, capped_three = scored(3, capped)
    assert capped_three.offboarding["customer_id"].tolist() == one.offboarding["customer_id"].tolist()[:3]
    assert capped_three.over_limit == len(one.offboarding) - 3 and int(capped_three.scores["offboard"].sum()) == 3
    with pytest.raises(RiskOpsError, match="the champion changed while its shards ran"):
        gather(ingested, store, "unlabelled", 2, [version, "m-other"], cfg)


def test_what_if_scores_the_stored_vector_edited_and_refuses_what_it_cannot_answer(
    ingested: DuckDBWarehouse, store: LocalStore
) -> None:
    from riskops.scoring.whatif import BadChange, WhatIfError, stored_features, what_if

    m = _served(store)
    batch = score_cohort(ingested, store, AS_OF, "unlabelled").scores.sort_values("score", ascending=False)
    cid, score = str(batch.iloc[0]["customer_id"]), float(batch.iloc[0]["score"])
    values = stored_features(ingested, "unlabelled", cid)
    assert values is not None and stored_features(ingested, "unlabelled", "nobody") is None
    feature = next(f for f in m.card.features if f not in m.card.categorical and values.get(f))
    answer = what_if(m, values, {feature: 0.0}, OffboardConfig(), score, m.version)
    assert answer["before"]["score"] == pytest.approx(score, abs=1e-9)
    unchanged = what_if(m, values, {feature: values[feature]}, OffboardConfig(), score, m.version)
    assert unchanged["after"] == unchanged["before"]  # the same value scores the same
    for changes in ({}, {"nope": 1.0}, {feature: float("inf")}, {feature: 1.0, "a": 1.0, "b": 2.0}):
        with pytest.raises(BadChange):
            what_if(m, values, changes, OffboardConfig(), score, m.version)
    with pytest.raises(WhatIfError, match="features table changed"):
        what_if(m, values, {feature: 0.0}, OffboardConfig(), score + 0.01, m.version)
    with pytest.raises(WhatIfError, match="scored by model m-other"):
        what_if(m, values, {feature: 0.0}, OffboardConfig(), score, "m-other")


def test_policy_check_knows_the_model_a_misspelt_rule_feature_is_an_error(store: LocalStore, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    policy = tmp_path / "p.yaml"
    policy.write_text("rules: [{name: big_cash, feature: cash_deposit_sum_30d, value: 10000, meaning: cash}]\n")
    env = {"RISKOPS_ARTIFACT_ROOT": str(store.root), "COLUMNS": "300", "NO_COLOR": "1"}
    bad = CliRunner().invoke(app, ["policy", "check", str(policy)], env=env)
    said = " ".join(bad.output.split())  # the console's width may have been fixed by an earlier test
    assert bad.exit_code == 2 and "has no feature 'cash_deposit_sum_30d'" in said, bad.output
    assert "closest: type_cash_deposit_sum_30d" in said
    policy.write_text("rules: [{name: big_cash, feature: type_cash_deposit_sum_30d, value: 10000, meaning: c}]\n")
    good = CliRunner().invoke(app, ["policy", "check", str(policy)], env=env)
    assert good.exit_code == 0 and "valid for model" in good.output, good.output
    alone = CliRunner().invoke(
        app, ["policy", "check", str(policy)], env=env | {"RISKOPS_ARTIFACT_ROOT": str(tmp_path / "empty")}
    )
    assert alone.exit_code == 0 and "settings only" in alone.output


def test_scoring_cuts_where_the_cohort_was_ingested_and_refuses_another_date(ingested: DuckDBWarehouse) -> None:
    from riskops.scoring.offboard import cohort_as_of

    assert cohort_as_of(ingested, "unlabelled") == AS_OF  # recorded by the ingest
    assert cohort_as_of(ingested, "unlabelled", AS_OF) == AS_OF
    with pytest.raises(RiskOpsError, match="--as-of 2026-06-30 differs from 2026-09-30") as e:
        cohort_as_of(ingested, "unlabelled", date(2026, 6, 30))
    assert "leave --as-of out" in e.value.fix


def test_two_runs_compared_name_who_entered_and_left_the_list(tmp_path: Path) -> None:
    from riskops.runs.report import cell, list_changes

    store = LocalStore(tmp_path)
    store.write_text("a/offboarding.csv", "customer_id,score,reasons\n007,0.9,x\nc2,0.8,y\n")
    store.write_text("b/offboarding.csv", "customer_id,score,reasons\n007,0.95,x\nc3,0.7,z\n")
    entered, left = list_changes(store, "a", "b")
    assert entered["customer_id"].tolist() == ["c3"] and left["customer_id"].tolist() == ["c2"]
    assert list_changes(store, "a", "none")[1]["customer_id"].tolist() == ["007", "c2"]  # ids stay text
    assert [cell(None), cell(0.123456), cell(1234567.8), cell("x")] == ["-", "0.1235", "1,234,568", "x"]
