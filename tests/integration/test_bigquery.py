"""The BigQuery path, proven with the real google-cloud-bigquery client against the bqemulator emulator:
the same ingest SQL gives the same clean rows and the same quarantine reasons as DuckDB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from riskops.core.config import Settings
from riskops.data.contract import Mapping
from riskops.data.ingest import ingest_cohort
from riskops.data.sources import dataset_as_of
from riskops.data.synth import generate
from riskops.io.artifacts import LocalStore
from riskops.io.warehouse import open_warehouse
from riskops.io.warehouse.base import Warehouse
from riskops.io.warehouse.bigquery import BigQueryWarehouse
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from tests.conftest import NOW

pytestmark = pytest.mark.integration


def _rows(table: pa.Table, key: str) -> list[dict[str, Any]]:
    rows = table.to_pylist()
    return sorted(rows, key=lambda r: (str(r[key]), str(r.get("quarantine_reason"))))


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pa.Table]:
    """A small generated cohort with a few broken rows of each kind mixed in."""
    folder = tmp_path_factory.mktemp("bq") / "data"
    generate(folder, customers=250, seed=11, chunk_size=250, unlabelled_share=0.0)
    customers = pq.read_table(folder / "labelled" / "customers")
    tx = pq.read_table(folder / "labelled" / "transactions")
    c_rows = customers.slice(0, 3).to_pylist()
    for i, row in enumerate(c_rows):
        row["customer_id"] = f"new{i}"
    c_rows[0]["account_state"] = "frozen"  # unknown label
    c_rows[1]["customer_id"] = customers.column("customer_id")[5].as_py()  # duplicate id
    c_rows[2]["signup_ts"] = NOW.replace(year=2030)  # in the future
    t_rows = tx.slice(0, 6).to_pylist()
    for i, row in enumerate(t_rows):
        row["transaction_id"] = f"bad{i}"
    t_rows[0]["amount"] = -3.0
    t_rows[1]["currency"] = "ZZZ"
    t_rows[2]["customer_id"] = "ghost"
    t_rows[3]["transaction_id"] = tx.column("transaction_id")[100].as_py()
    t_rows[4]["direction"] = "up"
    t_rows[5]["amount"] = float("nan")
    return {
        "customers": pa.concat_tables([customers, pa.Table.from_pylist(c_rows, schema=customers.schema)]),
        "transactions": pa.concat_tables([tx, pa.Table.from_pylist(t_rows, schema=tx.schema)]),
        "as_of": pa.table({"as_of": [dataset_as_of(folder)]}),
    }


def _ingest(wh: Warehouse, raw: dict[str, pa.Table], tmp: Path) -> Any:
    from datetime import date

    wh.load("raw_labelled_customers", raw["customers"])
    wh.load("raw_labelled_transactions", raw["transactions"])
    as_of = date.fromisoformat(raw["as_of"].column("as_of")[0].as_py())
    return ingest_cohort(wh, "labelled", as_of, LocalStore(tmp), "r", Mapping(), now=NOW)


def test_bigquery_ingest_matches_duckdb(bigquery_settings: Settings, raw: dict[str, pa.Table], tmp_path: Path) -> None:
    with open_warehouse(bigquery_settings) as bq, DuckDBWarehouse(":memory:") as duck:
        assert isinstance(bq, BigQueryWarehouse) and bq.storage_client is not None
        r_bq = _ingest(bq, raw, tmp_path / "bq")
        r_dd = _ingest(duck, raw, tmp_path / "dd")
        assert r_bq.backend == "bigquery" and r_dd.backend == "duckdb"
        for key in ("customers", "transactions"):
            a, b = getattr(r_bq, key), getattr(r_dd, key)
            assert (a.rows_in, a.rows_clean, a.by_reason) == (b.rows_in, b.rows_clean, b.by_reason)
        assert r_bq.customers.by_reason == {"unknown_label": 1, "duplicate_customer_id": 2, "signup_in_future": 1}
        assert {
            "negative_amount",
            "unknown_currency",
            "unknown_customer",
            "duplicate_transaction_id",
            "unknown_direction",
            "amount_nan",
            "customer_quarantined",
        } == set(r_bq.transactions.by_reason)
        assert r_bq.labels == r_dd.labels and r_bq.snapshot["fingerprint"] == r_dd.snapshot["fingerprint"]

        # Row for row, through the Storage Read API on BigQuery and Arrow export on DuckDB.
        for table, key in (
            ("labelled_customers", "customer_id"),
            ("labelled_transactions", "transaction_id"),
        ):
            got, want = bq.read_table(table), duck.read_table(table)
            assert got.num_rows == want.num_rows > 0
            assert sorted(got.column_names) == sorted(want.column_names)
            cols = sorted(want.column_names)
            assert _rows(got.select(cols), key) == _rows(want.select(cols), key)
        got_q = bq.read_table("labelled_quarantine_transactions").select(["transaction_id", "quarantine_reason"])
        want_q = duck.read_table("labelled_quarantine_transactions").select(["transaction_id", "quarantine_reason"])
        assert _rows(got_q, "transaction_id") == _rows(want_q, "transaction_id")


def test_storage_read_api_returns_large_tables(bigquery_settings: Settings, raw: dict[str, pa.Table]) -> None:
    with open_warehouse(bigquery_settings) as bq:
        bq.load("big", raw["transactions"])
        table = bq.read_table("big", columns=["transaction_id", "amount"])
        assert table.num_rows == raw["transactions"].num_rows
        assert table.column_names == ["transaction_id", "amount"]

        def finite_sum(col: pa.ChunkedArray) -> float:
            return float(pc.sum(pc.if_else(pc.is_nan(col), 0.0, col)).as_py())

        assert finite_sum(table.column("amount")) == pytest.approx(finite_sum(raw["transactions"].column("amount")))


def test_bigquery_errors_are_named(bigquery_settings: Settings) -> None:
    from riskops.core.errors import DataContractError, WarehouseError

    with open_warehouse(bigquery_settings) as bq:
        with pytest.raises(WarehouseError, match="BigQuery refused a query"):
            bq.query("SELECT * FROM `local.riskops_it.nope`")
        with pytest.raises(DataContractError, match="does not exist"):
            ingest_cohort(bq, "unlabelled", NOW.date(), LocalStore("/tmp"), "x", Mapping(), now=NOW)


def test_prediction_log_streams_into_a_partitioned_bigquery_table(bigquery_settings: Settings) -> None:
    from riskops.scoring.predlog import FIELDS, BigQuerySink, PredictionLog, Pseudonyms

    keys = Pseudonyms.from_setting("k1:a-secret-of-sixteen-plus", production=True)

    sink = BigQuerySink(BigQueryWarehouse.from_settings(bigquery_settings).client, bigquery_settings.bq_dataset)
    log = PredictionLog(sink, flush_s=0.05)  # closing the log closes the sink's own client
    for i in range(30):
        log.record(
            {
                "request_id": f"req-{i}",
                "time": f"2026-11-23T10:00:{i:02d}+00:00",
                "model_version": "m1",
                "customer_key": keys.key(f"C{i}"),
                "key_id": "k1",
                "score": i / 100,
                "segment": "High" if i > 25 else "Low",
                "offboard": i > 25,
                "latency_ms": 1.5,
            }
        )
    log.close()
    assert log.written == 30 and log.dropped == 0
    wh = BigQueryWarehouse.from_settings(bigquery_settings)
    table = wh.client.get_table(f"{wh.dataset}.predictions")
    assert [f.name for f in table.schema] == list(FIELDS) and table.time_partitioning.field == "time"
    rows = wh.query(f"SELECT * FROM {wh.ref('predictions')} ORDER BY score").to_pylist()
    assert [r["request_id"] for r in rows] == [f"req-{i}" for i in range(30)]
    assert rows[29]["segment"] == "High" and rows[29]["offboard"] is True and "C29" not in str(rows[29])
    wh.close()


HOSTILE = ["plain", "it's", 'a "quote"', "back\\slash", "`tick`; DROP TABLE x; --", "new\nline", "ünï €", "'); --"]


@pytest.mark.parametrize("backend", ["duckdb", "bigquery"])
def test_append_new_keeps_hostile_values_and_appends_each_key_once(
    backend: str, bigquery_settings: Settings, tmp_path: Path
) -> None:
    """The stream's idempotent write: values arrive intact, and appending the same keys again (a redelivery)
    adds nothing. On BigQuery the rows are literals in one DML statement: a value with quotes, backslashes or
    non-ASCII travels base64-encoded, and must come back intact."""
    from datetime import UTC, datetime

    rows = pa.table(
        {
            "event_id": [f"e{i}" for i in range(len(HOSTILE))],
            "customer_id": HOSTILE,
            "score": [i / 10 for i in range(len(HOSTILE))],
            "offboard": [i % 2 == 0 for i in range(len(HOSTILE))],
            "scored_at": pa.array(
                [datetime(2026, 10, 1, 12, i, tzinfo=UTC) for i in range(len(HOSTILE))], pa.timestamp("us", "UTC")
            ),
        }
    )
    wh: Warehouse = DuckDBWarehouse(tmp_path / "w.duckdb") if backend == "duckdb" else open_warehouse(bigquery_settings)
    with wh:
        wh.drop("it_append_new")
        assert wh.append_new("it_append_new", rows.slice(0, 5), "event_id") == 5
        assert wh.append_new("it_append_new", rows, "event_id") == len(HOSTILE) - 5
        assert wh.append_new("it_append_new", rows, "event_id") == 0
        got = sorted(wh.read_table("it_append_new").to_pylist(), key=lambda r: r["event_id"])
        wh.drop("it_append_new")
    assert [r["customer_id"] for r in got] == HOSTILE
    assert [r["score"] for r in got] == rows.column("score").to_pylist()
    assert [r["scored_at"] for r in got] == rows.column("scored_at").to_pylist()


def test_the_shard_predicate_partitions_the_customers_on_both_warehouses(bigquery_settings: Settings) -> None:
    """Every customer falls in exactly one of N shards, on the BigQuery emulator (FARM_FINGERPRINT) and on DuckDB
    (HASH) alike; the shards are not empty."""
    from riskops.core.names import ident

    ids = pa.table({"customer_id": [f"C{i:05d}" for i in range(600)]})
    for opener in (lambda: open_warehouse(bigquery_settings), lambda: DuckDBWarehouse(":memory:")):
        with opener() as wh:
            wh.load("shard_ids", ids)
            seen: list[str] = []
            for k in range(3):
                where = wh.shard_predicate(ident("customer_id"), 3, k)
                part = wh.query(f"SELECT customer_id FROM {wh.ref('shard_ids')} WHERE {where}").column(0).to_pylist()
                assert 100 < len(part) < 300, (wh.backend, k, len(part))
                seen += part
            assert sorted(seen) == ids.column(0).to_pylist(), wh.backend


@pytest.mark.parametrize("backend", ["duckdb", "bigquery"])
def test_two_approvers_confirming_at_once_land_one_confirmation(
    backend: str, bigquery_settings: Settings, tmp_path: Path
) -> None:
    """Four eyes under a race: approvers confirm the same pending off-boardings concurrently, each through its
    own warehouse connection (as the service's threads and replicas do). Exactly one confirmation per decision
    lands; every other is refused naming who confirmed."""
    from concurrent.futures import ThreadPoolExecutor

    from riskops.scoring import review
    from riskops.scoring.review import ReviewError, Shown, User

    run, table = f"race-{backend}", review.DECISIONS
    customers = [f"c{i}" for i in range(8)]
    approvers = [User(name=f"approver{i}", role="approver") for i in range(3)]

    def connect() -> Warehouse:
        return DuckDBWarehouse(tmp_path / "w.duckdb") if backend == "duckdb" else open_warehouse(bigquery_settings)

    with connect() as wh:
        wh.drop(table)
        for cid in customers:
            shown = Shown(
                run_id=run, customer_id=cid, model_version="m", score=0.9, segment="High", reasons=["r"], rules=[]
            )
            review.decide(wh, User(name="rita", role="reviewer"), shown, "offboard", "mule pattern")

    def confirm(job: tuple[str, User]) -> str:
        cid, user = job
        with connect() as wh:
            try:
                review.confirm(wh, user, run, cid, "agreed")
                return "landed"
            except ReviewError as e:
                assert "already confirmed by approver" in e.what or "off-boarded, not awaiting" in e.what, e.what
                return "refused"

    jobs = [(cid, a) for cid in customers for a in approvers]
    with ThreadPoolExecutor(max_workers=len(approvers)) as pool:
        outcomes = list(pool.map(confirm, jobs))
    with connect() as wh:
        decisions = review.read_decisions(wh, run)
        wh.drop(table)
    confirms = decisions[decisions["action"] == "confirm"]
    assert sorted(confirms["customer_id"]) == customers  # one confirmation each, none twice
    assert outcomes.count("landed") == len(customers) and outcomes.count("refused") == len(jobs) - len(customers)


@pytest.mark.parametrize("backend", ["duckdb", "bigquery"])
def test_rows_where_takes_the_value_as_a_parameter(backend: str, bigquery_settings: Settings, tmp_path: Path) -> None:
    """What-if reads one customer's features by id: hostile ids match exactly themselves, never run as SQL."""
    rows = pa.table({"customer_id": HOSTILE, "n": list(range(len(HOSTILE)))})
    wh: Warehouse = DuckDBWarehouse(tmp_path / "w.duckdb") if backend == "duckdb" else open_warehouse(bigquery_settings)
    with wh:
        wh.load("it_rows_where", rows)
        got = {h: wh.rows_where("it_rows_where", "customer_id", h).column("n").to_pylist() for h in HOSTILE}
        none = wh.rows_where("it_rows_where", "customer_id", "' OR '1'='1").num_rows
        wh.drop("it_rows_where")
    assert got == {h: [i] for i, h in enumerate(HOSTILE)} and none == 0
