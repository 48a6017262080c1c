from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from riskops.data.synth import generate
from riskops.io.artifacts import LocalStore
from riskops.io.warehouse.duckdb import DuckDBWarehouse

AS_OF = date(2026, 6, 30)
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def ts(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


def customers_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows)


GOOD_CUSTOMERS = [
    {"customer_id": "c1", "signup_ts": ts("2025-01-01"), "account_state": "ACTIVE", "age": 30},
    {"customer_id": "c2", "signup_ts": ts("2025-02-01"), "account_state": "SUSPENDED", "age": 40},
    {"customer_id": "c3", "signup_ts": ts("2025-03-01"), "account_state": "ACTIVE", "age": 50},
]


def tx(tid: str, cid: str, when: str = "2026-03-01", amount: Any = 10.0, **kw: Any) -> dict[str, Any]:
    row = {
        "transaction_id": tid,
        "customer_id": cid,
        "ts": ts(when),
        "amount": amount,
        "direction": "in",
        "currency": "EUR",
        "type": "card",
        "counterparty_id": "m1",
        "country": "DE",
        "status": "completed",
    }
    row.update(kw)
    return row


GOOD_TX = [tx(f"t{i}", f"c{1 + i % 3}") for i in range(30)]


@pytest.fixture
def duck() -> Iterator[DuckDBWarehouse]:
    wh = DuckDBWarehouse(":memory:")
    yield wh
    wh.close()


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "artifacts")


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data") / "synthetic"
    generate(out, customers=1500, seed=7, chunk_size=500)
    return out


@pytest.fixture(scope="session")
def ingested(small_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBWarehouse]:
    """The small synthetic dataset loaded and ingested (both cohorts) into one DuckDB file."""
    from riskops.data.ingest import ingest_cohort
    from riskops.data.sources import dataset_as_of, load_dataset

    folder = tmp_path_factory.mktemp("ingested")
    wh = DuckDBWarehouse(folder / "w.duckdb")
    load_dataset(wh, small_dataset)
    as_of = date.fromisoformat(dataset_as_of(small_dataset))
    for cohort in ("labelled", "unlabelled"):
        ingest_cohort(wh, cohort, as_of, LocalStore(folder / "store"), f"v/{cohort}")  # type: ignore[arg-type]
    yield wh
    wh.close()
