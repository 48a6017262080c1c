"""The stream worker against Google's Pub/Sub emulator on 127.0.0.1, with the real google-cloud-pubsub client:
a few thousand events with duplicates, out-of-order and malformed ones; the worker killed with SIGKILL in the
middle and restarted; a new champion promoted mid-stream. Every valid event has exactly one result (warehouse
and CSV), every malformed one is in the dead-letter topic with its reason, nothing else."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from riskops.data.contract import as_of_cutoff
from riskops.data.sources import load_dataset
from riskops.io.artifacts import LocalStore
from riskops.io.pubsub import PubSub
from riskops.io.warehouse.duckdb import DuckDBWarehouse
from riskops.model.config import CostMatrix, TrainConfig
from riskops.model.registry import Registry
from riskops.runs.candidate import train_and_register
from riskops.scoring.offboard import score_cohort
from streaming.feed import customer_events, hidden_truth, outcome_event
from tests.integration.conftest import free_port, stop, wait_for_port

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("gcloud") is None, reason="the Pub/Sub emulator (gcloud) is not installed"),
]
AS_OF = date(2026, 9, 30)
FAST = TrainConfig(folds=3, trials=0, max_iterations=60, baselines=False, imbalance="none", seed=1)
PROJECT = "riskops-test"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`gcloud beta emulators pubsub start` on a free port; yields host:port."""
    folder = tmp_path_factory.mktemp("pubsub")
    port = free_port()
    log = folder / "emulator.log"
    (folder / "data").mkdir()
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [
                "gcloud",
                "beta",
                "emulators",
                "pubsub",
                "start",
                f"--host-port=127.0.0.1:{port}",
                f"--data-dir={folder / 'data'}",
                "--quiet",
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_port(port, proc, log, timeout=90)
        yield f"127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # gcloud starts java as a child: stop the whole group
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture
def pubsub(emulator: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[PubSub]:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", emulator)
    ps = PubSub(PROJECT)
    yield ps
    ps.close()


def _events(dataset: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every unlabelled customer as of the cut-off and as of three earlier days (out of order once shuffled),
    and outcome events for 40 of them."""
    base = list(customer_events(dataset))
    events = []
    for days in (0, 7, 30, 61):
        for e in base:
            as_of = AS_OF - timedelta(days=days)
            cutoff = as_of_cutoff(as_of).isoformat()
            events.append({**e, "event_id": f"{e['customer']['customer_id']}@{as_of}", "as_of": cutoff})
    truth = hidden_truth(dataset)
    from datetime import UTC, datetime

    outcomes = [
        outcome_event(e, truth[e["customer"]["customer_id"]], datetime(2026, 10, 5, tzinfo=UTC)) for e in base[:40]
    ]
    return events, outcomes


MALFORMED: list[tuple[bytes, str]] = [
    (b"not json at all", "Invalid JSON"),
    (b'{"kind": "customer", "event_id": "m1"}', "customer"),
    (b'{"kind": "refund", "event_id": "m2"}', "kind"),
    (
        json.dumps(
            {
                "kind": "customer",
                "event_id": "m3",
                "customer": {"customer_id": "X", "signup_ts": "2020-01-01"},
                "transactions": [{"ts": "2026-01-01", "amount": -5, "direction": "out"}],
            }
        ).encode(),
        "amount",
    ),
    (
        json.dumps(
            {
                "kind": "customer",
                "event_id": "m4",
                "customer": {"customer_id": "X", "signup_ts": "2020-01-01"},
                "transactions": [{"ts": "2026-01-01", "amount": 1, "direction": "out"}] * 2001,
            }
        ).encode(),
        "transactions",
    ),
    (b"{" * 2_000_000, "bytes"),
    # poison: deeply nested, a wrong type, an epoch time (the online contract), a time in other digits, bytes
    # that are not UTF-8, and a reason over Pub/Sub's 1,024-byte attribute limit (an attribute named in 1,400 bytes)
    (b'{"kind": "customer", "event_id": "m5", "customer": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "recursion"),
    (
        json.dumps(
            {"kind": "customer", "event_id": "m6", "customer": {"customer_id": 7, "signup_ts": "2020-01-01"}}
        ).encode(),
        "customer.customer_id",
    ),
    (
        json.dumps(
            {"kind": "customer", "event_id": "m7", "customer": {"customer_id": "X", "signup_ts": 1577836800}}
        ).encode(),
        "not a number",
    ),
    (
        json.dumps(
            {"kind": "customer", "event_id": "m8", "customer": {"customer_id": "X", "signup_ts": "２０２０-01-01"}},
            ensure_ascii=False,
        ).encode(),
        "ISO 8601",
    ),
    (b'{"kind": "customer", "event_id": "m9\xff"}', "Invalid JSON"),
    (
        json.dumps(
            {
                "kind": "customer",
                "event_id": "m10",
                "customer": {"customer_id": "X", "signup_ts": "2020-01-01", "attributes": {"\u00fc" * 700: [1]}},
            }
        ).encode(),
        "valid string",
    ),
]


def _worker(env: dict[str, str], duck: Path, csv_path: Path, log: Path) -> subprocess.Popen[bytes]:
    fh = log.open("ab")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.main",
            "stream",
            "work",
            "--project",
            PROJECT,
            "--subscription",
            "events-w",
            "--dead-letter-topic",
            "dead",
            "--results-topic",
            "results",
            "--csv",
            str(csv_path),
            "--duckdb",
            str(duck),
            "--batch-size",
            "100",
            "--metrics-port",
            "0",
        ],
        stdout=fh,
        stderr=subprocess.STDOUT,
        env=env,
    )


def _csv_ids(path: Path) -> list[str]:
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return [r[0] for r in list(csv.reader(fh))[1:] if r]


def _drain(ps: PubSub, subscription: str, quiet_s: float = 3.0) -> list[Any]:
    got: list[Any] = []
    last = time.monotonic()
    while time.monotonic() - last < quiet_s:
        batch = ps.pull(subscription, 500, 1.0)
        if batch:
            ps.ack(subscription, [m.ack_id for m in batch])
            got += batch
            last = time.monotonic()
    return got


def test_every_event_has_exactly_one_result_through_a_kill_and_a_new_champion(
    pubsub: PubSub, emulator: str, small_dataset: Path, ingested: DuckDBWarehouse, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "store")
    first, _ = train_and_register(ingested, store, AS_OF, FAST, CostMatrix())
    batch = score_cohort(ingested, store, AS_OF, "unlabelled").scores.set_index("customer_id")["score"]
    duck = tmp_path / "stream.duckdb"
    with DuckDBWarehouse(duck) as wh:  # the labelled raw tables the outcomes are appended to
        load_dataset(wh, small_dataset)
        labelled_before = wh.count("raw_labelled_customers")

    pubsub.ensure("events", ["events-w"], ack_deadline_s=10)
    pubsub.ensure("dead", ["dead-inspect"])
    pubsub.ensure("results", ["results-consumer"])
    events, outcomes = _events(small_dataset)
    rng = random.Random(3)
    duplicates = rng.sample(events, 200) + outcomes[:5]
    stream = [json.dumps(e).encode() for e in [*events, *outcomes, *duplicates]] + [m for m, _ in MALFORMED]
    rng.shuffle(stream)
    expected = {e["event_id"] for e in events}

    env = {
        **os.environ,
        "PUBSUB_EMULATOR_HOST": emulator,
        "RISKOPS_ARTIFACT_ROOT": str(tmp_path / "store"),
        "RISKOPS_HOME": str(tmp_path / "home"),
        "RISKOPS_MODEL_POLL_S": "0.5",
    }
    csv_path, log = tmp_path / "results.csv", tmp_path / "worker.log"
    worker = _worker(env, duck, csv_path, log)
    try:
        half = len(stream) // 2
        pubsub.publish_all("events", [(m, {}) for m in stream[:half]])
        deadline = time.monotonic() + 120
        while len(_csv_ids(csv_path)) < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _csv_ids(csv_path), log.read_text()[-3000:]
        worker.send_signal(signal.SIGKILL)  # mid-stream: whatever it held unacknowledged comes back
        worker.wait()
        killed_at = len(_csv_ids(csv_path))

        second, _ = train_and_register(
            ingested, store, AS_OF, FAST.model_copy(update={"seed": 2}), CostMatrix(), promote=False
        )
        worker = _worker(env, duck, csv_path, log)
        pubsub.publish_all("events", [(m, {}) for m in stream[half : half + 400]])
        time.sleep(2)
        Registry(store).set_champion(second.version, "promoted mid-stream by the test")
        pubsub.publish_all("events", [(m, {}) for m in stream[half + 400 :]])
        deadline = time.monotonic() + 180
        while len(set(_csv_ids(csv_path))) < len(expected) and time.monotonic() < deadline:
            time.sleep(0.2)
        # What the killed worker had written to the CSV but not to the warehouse comes back once its ack
        # deadline (10 s) has passed: wait it out, so the warehouse is complete and any duplicate would show.
        time.sleep(13)
    finally:
        stop(worker)

    ids = _csv_ids(csv_path)
    assert 0 < killed_at < len(expected), "the worker was killed mid-stream"
    assert sorted(ids) == sorted(expected), (
        f"CSV: {len(ids)} rows for {len(expected)} events\n{log.read_text()[-3000:]}"
    )
    with DuckDBWarehouse(duck) as wh:
        results = wh.read_table("stream_results").to_pandas()
        ledger = wh.read_table("stream_outcomes").to_pandas()
        labelled = wh.read_table("raw_labelled_customers").to_pandas()
    assert sorted(results["event_id"]) == sorted(expected)
    versions = set(results["model_version"])
    assert versions == {first.version, second.version}, versions
    # Scored by the first champion as of the batch's cut-off: the batch score, to the last digit.
    at_cutoff = results[results["event_id"].str.endswith(f"@{AS_OF}") & (results["model_version"] == first.version)]
    assert len(at_cutoff) > 20
    for row in at_cutoff.itertuples():
        assert row.score == pytest.approx(batch[row.customer_id], abs=1e-9)

    assert sorted(ledger["event_id"]) == sorted(e["event_id"] for e in outcomes)
    assert len(labelled) == labelled_before + len(outcomes)
    assert set(labelled["customer_id"]) >= {e["customer"]["customer_id"] for e in outcomes}

    dead = _drain(pubsub, "dead-inspect")
    assert len(dead) == len(MALFORMED)
    for data, words in MALFORMED:
        letter = next(m for m in dead if m.data == data)
        assert words.lower() in letter.attributes["reason"].lower(), letter.attributes
        assert len(letter.attributes["reason"].encode()) <= 1024  # what real Pub/Sub accepts (the emulator does not)
    long_reason = next(m for m in dead if b"m10" in m.data).attributes["reason"]
    assert len(long_reason.encode()) > 1000 and "dead letter" in log.read_text()  # cut; the log has it whole
    published = _drain(pubsub, "results-consumer")
    assert {m.attributes["event_id"] for m in published} == expected  # at least once on the topic


def test_the_feed_publishes_customers_at_its_rate_then_their_outcomes(pubsub: PubSub, small_dataset: Path) -> None:
    import threading

    from streaming.feed import run_feed

    pubsub.ensure("feed", ["feed-sub"])
    truth = hidden_truth(small_dataset)
    events = customer_events(small_dataset, limit=30)
    started = time.monotonic()
    summary = run_feed(
        pubsub, "feed", events, 60.0, threading.Event(), truth, outcomes_every_s=0.3, outcomes_per_tick=10
    )
    assert time.monotonic() - started >= 0.4  # 30 customers at 60/s take half a second
    got = _drain(pubsub, "feed-sub", quiet_s=2.0)
    kinds = [json.loads(m.data)["kind"] for m in got]
    assert summary.customers == kinds.count("customer") == 30
    assert summary.outcomes == kinds.count("outcome") == 30
    states = {
        json.loads(m.data)["customer"]["customer_id"]: json.loads(m.data)["account_state"]
        for m in got
        if json.loads(m.data)["kind"] == "outcome"
    }
    assert states == {c: ("SUSPENDED" if truth[c] else "ACTIVE") for c in states}


def test_a_bad_published_policy_never_stops_the_worker(
    pubsub: PubSub, small_dataset: Path, ingested: DuckDBWarehouse, tmp_path: Path
) -> None:
    """A run published with an infinite cost: the worker keeps scoring with the last good run's policy, counts
    the failure at every poll, and takes the next good run's policy."""
    from prometheus_client import REGISTRY

    from riskops.scoring.offboard import publish_scores
    from riskops.scoring.online import ModelHolder, PublishedPolicy
    from streaming.worker import StreamConfig, StreamWorker

    store = LocalStore(tmp_path / "store")
    train_and_register(ingested, store, AS_OF, FAST, CostMatrix())
    good = score_cohort(ingested, store, AS_OF, "unlabelled")
    publish_scores(store, "20990101-000000-000", good)
    pubsub.ensure("events-p", ["events-p-w"])
    pubsub.ensure("dead-p", [])
    with DuckDBWarehouse(tmp_path / "stream.duckdb") as wh:
        worker = StreamWorker(
            pubsub, wh, ModelHolder(Registry(store)), PublishedPolicy(store), StreamConfig("events-p-w", "dead-p")
        )

        def failures() -> float:
            return REGISTRY.get_sample_value("riskops_refresh_failures_total", {"what": "policy"}) or 0.0

        def scored(events: list[dict[str, Any]]) -> int:
            pubsub.publish_all("events-p", [(json.dumps(e).encode(), {}) for e in events])
            messages: list[Any] = []
            deadline = time.monotonic() + 30
            while len(messages) < len(events) and time.monotonic() < deadline:
                messages += pubsub.pull_batch("events-p-w", 100, 0.5)
            return worker.process(messages).scored

        worker.refresh()
        assert worker.policy.run_id == "20990101-000000-000"
        bad = good.policy.model_dump(mode="json") | {"offboard_cost": float("inf"), "missed_cost": 5000.0}
        store.write_text("20990102-000000-000/policy.json", json.dumps(bad))
        store.write_bytes("20990102-000000-000/scores.parquet", store.read_bytes("20990101-000000-000/scores.parquet"))
        before = failures()
        worker.refresh()
        worker.refresh()
        assert failures() == before + 2 and "offboard_cost" in worker.refreshes.failing["policy"].reason
        assert worker.policy.run_id == "20990101-000000-000"  # the last good run's policy still decides
        events = list(customer_events(small_dataset, limit=5))
        assert scored(events) == 5  # and the stream goes on

        fixed = good.policy.model_copy(update={"capacity": 2})
        store.write_text("20990103-000000-000/policy.json", fixed.model_dump_json())
        store.write_bytes("20990103-000000-000/scores.parquet", store.read_bytes("20990101-000000-000/scores.parquet"))
        worker.refresh()
        assert worker.policy.run_id == "20990103-000000-000" and worker.refreshes.failing == {}
        assert worker.holder.current is not None and worker.policy.policy_for(worker.holder.current).capacity == 2
