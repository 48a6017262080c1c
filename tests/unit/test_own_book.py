"""A bank's own folder of files: where each cohort's tables are found, the cut-off date read from the data, the
mapping as a pipeline parameter, and the policy file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from riskops.core.errors import ConfigError, DataContractError
from riskops.data.contract import Mapping
from riskops.data.sources import cohort_source, dataset_as_of, dataset_cohorts, load_dataset
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from riskops.scoring.policy import OffboardConfig, describe_policy, load_policy


def _book(root: Path, ts_column: str = "ts", transactions: str = "csv") -> Path:
    (root / "labelled").mkdir(parents=True)
    customers = {
        "customer_id": ["a", "b"],
        "signup_ts": ["2025-01-01", "2025-02-01"],
        "account_state": ["ACTIVE", "SUSPENDED"],
    }
    pd.DataFrame(customers).to_csv(root / "labelled" / "customers.csv", index=False)
    tx = pd.DataFrame(
        {
            "transaction_id": ["1", "2", "3"],
            "customer_id": ["a", "b", "b"],
            ts_column: ["2026-03-01 10:00:00", "2026-04-15 23:59:00", "2099-01-01 00:00:00"],  # one in the future
            "amount": [1.0, 2.0, 3.0],
            "direction": ["in", "out", "out"],
        }
    )
    if transactions == "csv":
        tx.to_csv(root / "labelled" / "transactions.csv", index=False)
    else:
        tx[ts_column] = pd.to_datetime(tx[ts_column], utc=True)
        tx.to_parquet(root / "labelled" / "transactions.parquet", index=False)
    return root


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_the_cut_off_date_is_the_last_day_with_a_transaction_not_in_the_future(tmp_path: Path, kind: str) -> None:
    assert dataset_as_of(_book(tmp_path, transactions=kind)) == "2026-04-15"


def test_the_cut_off_date_reads_the_mapped_time_column(tmp_path: Path) -> None:
    book = _book(tmp_path, ts_column="gebucht am")
    mapping = Mapping.model_validate({"transactions": {"columns": {"ts": "gebucht am"}}})
    assert dataset_as_of(book, mapping) == "2026-04-15"
    with pytest.raises(DataContractError, match="cannot read column 'ts'") as e:
        dataset_as_of(book)  # without the mapping there is no `ts`
    assert "--as-of" in e.value.fix


def test_no_usable_timestamp_asks_for_the_date(tmp_path: Path) -> None:
    book = _book(tmp_path)
    pd.DataFrame({"ts": ["not a time", None]}).to_csv(book / "labelled" / "transactions.csv", index=False)
    with pytest.raises(DataContractError, match=r"no transaction .* has a usable 'ts' timestamp"):
        dataset_as_of(book)


def test_a_cohort_table_is_a_file_or_a_folder_never_both(tmp_path: Path) -> None:
    book = _book(tmp_path)
    assert cohort_source(book, "labelled", "customers") == book / "labelled" / "customers.csv"
    (book / "labelled" / "customers").mkdir()
    with pytest.raises(DataContractError, match="more than one labelled customers source"):
        cohort_source(book, "labelled", "customers")
    with pytest.raises(DataContractError, match="no unlabelled customers source") as e:
        cohort_source(book, "unlabelled", "customers")
    assert "unlabelled/customers.csv" in e.value.fix


def test_a_folder_without_labelled_data_is_refused_before_anything_loads(tmp_path: Path) -> None:
    (tmp_path / "unlabelled").mkdir()
    with pytest.raises(DataContractError, match="not a dataset folder") as e:
        dataset_cohorts(tmp_path)
    assert "labelled/customers.csv|parquet" in e.value.fix


def test_a_book_loads_into_the_mappings_raw_tables(tmp_path: Path) -> None:
    book = _book(tmp_path / "book", transactions="parquet")
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh:
        counts = load_dataset(wh, book)
    assert counts == {"raw_labelled_customers": 2, "raw_labelled_transactions": 3}


def test_the_mapping_travels_as_a_pipeline_parameter_and_comes_back_the_same() -> None:
    m = Mapping.model_validate(
        {
            "customers": {"columns": {"customer_id": "Kunden Nr", "account_state": "Status ä"}},
            "labels": {"ACTIVE": ["open"], "SUSPENDED": ["closed_risk"]},
            "currencies": ["EUR"],
        }
    )
    param = m.parameter()
    assert None not in _leaves(param)  # KFP refuses a null inside a struct parameter
    assert Mapping.model_validate(param) == m
    assert Mapping.model_validate(Mapping().parameter()) == Mapping()


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def test_a_policy_file_is_checked_setting_by_setting(tmp_path: Path) -> None:
    good = tmp_path / "p.yaml"
    good.write_text("high_cutoff: 0.3\nmedium_factor: 0.6\nmin_rules: 2\n")
    policy = load_policy(good)
    assert (policy.high, policy.medium, policy.min_rules) == (0.3, pytest.approx(0.18), 2)
    assert policy.rules == OffboardConfig().rules  # what the file leaves out keeps its default
    assert "High from a score of 0.300; Medium from 0.6 x that" in describe_policy(policy)
    bad = tmp_path / "bad.yaml"
    bad.write_text("medium_factor: 2\nrules: [{name: x, feature: f}]\nsurprise: 1\n")
    with pytest.raises(ConfigError) as e:
        load_policy(bad)
    assert "medium_factor: Input should be less than 1" in e.value.what
    assert "rules.0.value: Field required" in e.value.what and e.value.where == str(bad)
    assert "surprise: Extra inputs are not permitted" in e.value.what  # a misspelt setting is not ignored
    for text, what in (("[1, 2]", "does not hold a mapping"), ("a: [", "not valid YAML")):
        bad.write_text(text)
        with pytest.raises(ConfigError, match=what):
            load_policy(bad)
    with pytest.raises(ConfigError, match="cannot read the policy file"):
        load_policy(tmp_path / "missing.yaml")


def test_the_outcome_has_the_books_own_words() -> None:
    assert Mapping(label_words={"SUSPENDED": " defaulted "}).label_words == {"SUSPENDED": "defaulted"}
    for bad in ({"DEFAULT": "x"}, {"ACTIVE": " "}):
        with pytest.raises(ValidationError, match="label_words"):
            Mapping(label_words=bad)


def test_the_example_mapping_is_a_valid_mapping() -> None:
    from riskops.data.contract import load_mapping

    m = load_mapping(Path(__file__).parents[2] / "configs" / "mapping.example.yaml")
    assert m.categorical == ["kyc_level"] and m.source_column("customers", "customer_id") == "cust_no"


def test_a_book_without_transactions_loads_an_empty_typed_table_under_the_mapped_names(tmp_path: Path) -> None:
    book = _book(tmp_path / "book")
    (book / "labelled" / "transactions.csv").unlink()
    mapping = Mapping.model_validate(
        {"transactions": {"columns": {"ts": "gebucht am"}, "defaults": {"currency": "EUR"}}}
    )
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh:
        counts = load_dataset(wh, book, mapping)
        cols = wh.columns("raw_labelled_transactions")
    assert counts == {"raw_labelled_customers": 2, "raw_labelled_transactions": 0}
    assert cols["gebucht am"] == "TIMESTAMP" and cols["amount"] == "FLOAT64" and "currency" not in cols
    with pytest.raises(DataContractError, match="or there are no transactions") as e:
        dataset_as_of(book, mapping)  # no transaction to read the date from: it must be given
    assert "--as-of" in e.value.fix


def _card(calibrated: bool = True) -> Any:
    from riskops.model.registry import ModelCard

    return ModelCard.model_construct(
        version="m1",
        threshold=0.3,
        costs={"missed_cost": 5000.0, "offboard_cost": 400.0},
        calibration={"method": "platt"} if calibrated else {},
        metrics={},
    )


def test_costs_in_the_policy_set_the_high_cut_off_of_a_calibrated_model() -> None:
    assert OffboardConfig().resolved(_card()).high == 0.3  # no costs: the model's own threshold
    assert OffboardConfig(missed_cost=1600, offboard_cost=400).resolved(_card()).high == pytest.approx(0.2)
    assert OffboardConfig(offboard_cost=5000).resolved(_card()).high == pytest.approx(0.5)  # missed as trained
    assert OffboardConfig(high_cutoff=0.9, missed_cost=1).resolved(_card()).high == 0.9  # a set cut-off wins
    with pytest.raises(ConfigError, match="not calibrated probabilities"):
        OffboardConfig(missed_cost=1000).resolved(_card(calibrated=False))
    assert "review capacity: 250 customers per run" in describe_policy(OffboardConfig(capacity=250))


def test_review_capacity_keeps_the_highest_scores() -> None:
    from riskops.scoring.offboard import within_limit

    p = np.array([0.9, 0.2, 0.8, 0.95, 0.7, 0.85])
    offboard = np.array([True, False, True, True, True, True])
    assert within_limit(offboard.copy(), p, None) == 0
    capped = offboard.copy()
    assert within_limit(capped, p, 3) == 2
    assert capped.tolist() == [True, False, False, True, False, True]
    assert within_limit(offboard.copy(), p, 10) == 0


def test_the_list_never_swallows_the_book_by_default() -> None:
    from riskops.scoring.offboard import limit_list

    assert OffboardConfig().list_limit(4000) == 400  # 10% of the cohort by default
    assert OffboardConfig(capacity=250).list_limit(4000) == 250 and OffboardConfig(capacity=900).list_limit(4000) == 400
    assert OffboardConfig(max_list_share=None).list_limit(4000) is None and OffboardConfig().list_limit(3) == 1
    assert "max_list_share, 10% of the 4,000" in OffboardConfig().limited_by(4000)
    assert "review capacity of 250" in OffboardConfig(capacity=250).limited_by(4000)
    assert OffboardConfig(capacity=5).uncapped().list_limit(4000) is None
    assert "the list holds at most 10% of the scored cohort" in describe_policy(OffboardConfig())
    # A book where the costs list 80%: the list keeps the top 10%; the expected costs of both lists and of none.
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.5, 1000)
    offboard = p >= 0.08
    cut = offboard.copy()
    over, limit, costs = limit_list(cut, p, OffboardConfig(), _card())
    assert limit == 100 and cut.sum() == 100 and over == offboard.sum() - 100
    assert p[cut].min() >= p[offboard & ~cut].max()  # the highest scores stay
    assert costs["nobody"] == pytest.approx(5000 * p.sum())
    assert costs["costs_alone"] == pytest.approx(np.where(offboard, 400 * (1 - p), 5000 * p).sum())
    assert costs["costs_alone"] < costs["list"] < costs["nobody"]  # the costs' list is cheapest, as they say
    assert limit_list(offboard.copy(), p, OffboardConfig(), _card(calibrated=False))[2] == {}  # no probabilities
    with pytest.raises(ValidationError):
        OffboardConfig(max_list_share=0)


def test_the_credit_book_is_monthly_coded_and_defaults_near_one_in_five(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from riskops.data.credit import generate_credit

    manifest = generate_credit(tmp_path / "credit", customers=3000, seed=1)
    assert 0.15 < float(manifest["default_share"]) < 0.26  # type: ignore[arg-type]
    customers = pq.read_table(tmp_path / "credit" / "labelled" / "customers.parquet").to_pandas()
    assert set(customers["sex"]) == {1, 2} and set(customers["education"]) <= {1, 2, 3, 4}
    assert customers["account_state"].isin(["ACTIVE", "SUSPENDED"]).all()
    tx = pq.read_table(tmp_path / "credit" / "labelled" / "transactions.parquet").to_pandas()
    assert set(tx["type"]) == {"bill", "payment"} and tx["transaction_id"].is_unique
    per_customer = tx[tx["type"] == "bill"].groupby("customer_id").size()
    assert per_customer.max() == 12  # one statement a month
    assert dataset_as_of(tmp_path / "credit") == "2026-09-30"
    assert tx["ts"].max() < pd.Timestamp("2026-10-01", tz="UTC")


def test_rules_that_do_not_fit_the_book_are_skipped_and_named() -> None:
    from riskops.scoring.offboard import skipped_rules
    from riskops.scoring.policy import DEFAULT_RULES, BookTraits, Rule

    cfg = OffboardConfig(rules=[*DEFAULT_RULES, Rule(name="big", feature="limit_bal", value=1e6, meaning="m")])
    columns = [
        "pass_through_2d_90d",
        "high_risk_out_sum_365d",
        "chargeback_reversed_count_365d",
        "near_threshold_count_90d",
    ]
    aml = ("card", "transfer", "cash_deposit")
    assert skipped_rules(cfg, columns, BookTraits("EUR", aml)) == ["big (no feature limit_bal)"]
    assert skipped_rules(cfg, columns, BookTraits()) == ["big (no feature limit_bal)"]  # unknown book: no judgement
    assert skipped_rules(cfg, columns, BookTraits("TWD", ("bill", "payment"))) == [
        "pass_through (it is about transfer, cash_deposit, withdrawal, crypto transactions; the book has bill, "
        "payment)",
        "high_risk_corridors (its threshold is in EUR; the book is in TWD)",
        "structuring (its threshold is in EUR; the book is in TWD)",
        "big (no feature limit_bal)",
    ]
    assert Rule(name="x", feature="f", value=1, meaning="m", currency="eur").fits(BookTraits("EUR"))


def test_the_mappings_words_for_an_attribute_are_how_features_and_reasons_name_it() -> None:
    from riskops.features.engineering import FeatureConfig, FeatureSet

    m = Mapping.model_validate({"descriptions": {"LIMIT.BAL": "credit limit"}})
    assert m.descriptions == {"LIMIT_BAL": "credit limit"}  # the name as loaded (safe_column)
    fs = FeatureSet(FeatureConfig(attribute_words=m.descriptions), {"LIMIT_BAL": "numeric", "AGE": "numeric"})
    words = {f.name: f.definition for f in fs.features() if f.group == "attribute"}
    assert words == {"LIMIT_BAL": "credit limit", "AGE": "customer attribute AGE"}


def test_a_data_name_that_is_neither_embedded_nor_a_folder_says_both(tmp_path: Path) -> None:
    from riskops.runs.job import prepare_data

    with pytest.raises(DataContractError, match="not one of synthetic, credit, amlsim, and no such folder") as e:
        prepare_data("amlsm", tmp_path, 100, 1, None)
    assert "the folder of your book" in e.value.fix


def test_the_default_policy_prints_each_setting_with_its_meaning_and_reads_back(tmp_path: Path) -> None:
    from riskops.scoring.policy import commented_yaml, load_policy

    text = commented_yaml(OffboardConfig())
    assert "# default: from the costs below if set, else the model's cost-optimal threshold\nhigh_cutoff: null" in text
    assert "  # lowest / highest listed share of any two groups" in text  # nested settings too
    (tmp_path / "p.yaml").write_text(text)
    assert load_policy(tmp_path / "p.yaml") == OffboardConfig()
