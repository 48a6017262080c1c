"""Drift against the model's frozen reference, counted in the warehouse: on an unshifted cohort nothing drifts;
with one attribute shifted and one category's share changed, exactly those two do; the same counts, PSI and
verdicts on DuckDB and on the BigQuery emulator."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from riskops.core.config import Settings
from riskops.data.contract import table_name
from riskops.data.ingest import ingest_cohort
from riskops.data.sources import load_dataset
from riskops.io.artifacts import LocalStore
from riskops.io.warehouse import open_warehouse
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from riskops.model.config import CostMatrix, TrainConfig
from riskops.model.registry import Registry
from riskops.runs.candidate import train_and_register
from riskops.scoring.drift import DriftResult, measure_drift
from riskops.scoring.offboard import score_cohort
from riskops.scoring.policy import DriftPolicy

pytestmark = pytest.mark.integration
AS_OF = date(2026, 9, 30)
FAST = TrainConfig(folds=3, trials=0, max_iterations=60, baselines=False, imbalance="none", seed=1)


@pytest.fixture(scope="module")
def trained(small_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A warehouse with both cohorts ingested, a champion, and the unlabelled cohort scored."""
    root = tmp_path_factory.mktemp("drift")
    store = LocalStore(root / "store")
    with DuckDBWarehouse(root / "w.duckdb") as wh:
        load_dataset(wh, small_dataset)
        for cohort in ("labelled", "unlabelled"):
            ingest_cohort(wh, cohort, AS_OF, store, f"v/{cohort}")  # type: ignore[arg-type]
        card, _ = train_and_register(wh, store, AS_OF, FAST, CostMatrix())
        score_cohort(wh, store, AS_OF, "unlabelled")
    yield {"root": root, "store": store, "card": card}


def _shift(root: Path, store: LocalStore) -> Path:
    """A copy of the warehouse whose unlabelled customers are 30 years older and half of them in one country."""
    path = root / "shifted.duckdb"
    shutil.copy(root / "w.duckdb", path)
    with DuckDBWarehouse(path) as wh:
        wh.execute("UPDATE main.raw_unlabelled_customers SET age = age + 30 WHERE TRUE")
        wh.con.execute("UPDATE main.raw_unlabelled_customers SET country = 'NG' WHERE hash(customer_id) % 2 = 0")
        ingest_cohort(wh, "unlabelled", AS_OF, store, "v/shifted")
        score_cohort(wh, store, AS_OF, "unlabelled")
    return path


def _on_bigquery(settings: Settings, duck: Path, store: LocalStore, card: Any) -> DriftResult:
    """The same features and scores tables, loaded into the BigQuery emulator, measured there."""
    with DuckDBWarehouse(duck) as wh:
        tables = {t: wh.read_table(table_name("unlabelled", t)) for t in ("features", "scores")}  # type: ignore[arg-type]
    with open_warehouse(settings) as bq:
        for t, data in tables.items():
            bq.load(table_name("unlabelled", t), data)  # type: ignore[arg-type]
        return measure_drift(bq, store, card, "unlabelled", DriftPolicy())


def test_nothing_drifts_on_the_same_population_and_exactly_the_shifted_two_do(
    trained: dict[str, Any], bigquery_settings: Settings
) -> None:
    root, store, card = trained["root"], trained["store"], trained["card"]
    with DuckDBWarehouse(root / "w.duckdb") as wh:
        same = measure_drift(wh, store, card, "unlabelled", DriftPolicy())
        assert wh.count("unlabelled_drift") == len(same.features) + 1
    assert same.drifted() == [] and not same.score.drifted, same.summary()
    assert same.rows == 300 and same.reference_rows == len(Registry(store).holdout(card.version))

    shifted_path = _shift(root, store)
    with DuckDBWarehouse(shifted_path) as wh:
        shifted = measure_drift(wh, store, card, "unlabelled", DriftPolicy())
    assert sorted(shifted.drifted()) == ["age", "country"], shifted.summary()
    country = next(d for d in shifted.features if d.name == "country")
    assert country.js is not None and country.js > 0.1

    on_bq = _on_bigquery(bigquery_settings, shifted_path, store, card)
    assert on_bq.model_dump() == shifted.model_dump()  # the same counts, so the same PSI and verdicts


def test_a_small_cohort_does_not_raise_false_alarms(trained: dict[str, Any], tmp_path: Path) -> None:
    """40 customers drawn from the same population: PSI is large by chance alone, and the sample-size-aware
    threshold absorbs it; the policy's minimum size keeps such a cohort from being judged at all."""
    root, store, card = trained["root"], trained["store"], trained["card"]
    path = tmp_path / "small.duckdb"
    shutil.copy(root / "w.duckdb", path)
    with DuckDBWarehouse(path) as wh:
        for t in ("features", "scores"):
            name = table_name("unlabelled", t)  # type: ignore[arg-type]
            wh.load(name, wh.query(f"SELECT * FROM {wh.ref(name)} ORDER BY customer_id LIMIT 40"))
        judged = measure_drift(wh, store, card, "unlabelled", DriftPolicy(min_rows=1))
        unjudged = measure_drift(wh, store, card, "unlabelled", DriftPolicy())
    assert max(d.psi for d in judged.features) > DriftPolicy().psi  # chance alone crosses the plain threshold
    assert judged.drifted() == [] and unjudged.drifted() == []
