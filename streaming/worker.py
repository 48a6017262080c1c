"""The stream worker: events from a Pub/Sub subscription, scored in micro-batches by the in-process champion
(the service's online features and policy), results written to the warehouse, an output topic and optionally
a CSV file; labelled samples appended to the labelled cohort's raw tables for the next training run.

Exactly-once effect (docs/decisions/0010-stream-exactly-once.md): a message is acknowledged only after what it
caused is durably written, and every write is idempotent by event id, so a redelivery, a duplicate or a restart
after `kill -9` changes nothing already written:

- warehouse: `append_new` keyed by event id (results, outcomes), customer id and transaction id (labelled rows);
- CSV: the file's own event ids are read back at start (a torn last line is cut) and skipped;
- output topic: published before the warehouse write, only for events without a result yet, with the event id
  as an attribute; a crash between the two publishes again (at least once; consumers dedupe by event id).

A malformed event goes to the dead-letter topic with the reason and is acknowledged: it never blocks the stream.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from prometheus_client import Counter, Gauge, Histogram

from riskops.core.errors import DataContractError, RiskOpsError
from riskops.core.names import check_table, ident, literal
from riskops.data.contract import Mapping
from riskops.io.pubsub import Message, PubSub
from riskops.io.warehouse.base import Warehouse
from riskops.scoring.online import Decision, ModelHolder, PublishedPolicy, decide_many, request_features
from riskops.scoring.payloads import CustomerEvent, OutcomeEvent, event_id_of, parse_event
from riskops.scoring.refresh import Refreshes, refresh_champion

log = logging.getLogger(__name__)

RESULTS_TABLE = "stream_results"
OUTCOMES_TABLE = "stream_outcomes"
CSV_HEADER = ("event_id", "customer_id", "score", "segment", "decision", "model_version")

EVENTS = Counter(
    "riskops_stream_events_total", "Events taken from the subscription, by kind and what became of them",
    ["kind", "result"],
)  # fmt: skip
BATCH_SECONDS = Histogram(
    "riskops_stream_batch_seconds", "Time to score, write and acknowledge one micro-batch",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)  # fmt: skip
LATENCY = Histogram(
    "riskops_stream_latency_seconds", "From an event's publication to its acknowledgement (its result written)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)  # fmt: skip
OLDEST_AGE = Gauge("riskops_stream_oldest_event_age_seconds", "Age of the oldest event of the last micro-batch")
FAILED_BATCHES = Counter("riskops_stream_failed_batches_total", "Micro-batches handed back unacknowledged")
MODEL = Gauge("riskops_stream_model_info", "The model version the worker scores with (value 1)", ["version"])
LABELS_PENDING = Gauge("riskops_stream_labels_appended", "Labelled samples appended since the worker started")


PUBSUB_ATTRIBUTE_BYTES = 1024  # Pub/Sub refuses a longer attribute value (the emulator does not)


def attribute_value(text: str, limit: int = PUBSUB_ATTRIBUTE_BYTES) -> str:
    """Text bounded to `limit` UTF-8 bytes, cut on a character boundary: a dead letter's reason that real
    Pub/Sub refuses would be redelivered forever."""
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


@dataclass(frozen=True)
class StreamConfig:
    subscription: str
    dead_letter_topic: str
    results_topic: str = ""  # empty: results go to the warehouse (and the CSV) only
    csv_path: Path | None = None
    batch_size: int = 200
    max_wait_s: float = 0.1
    poll_s: float = 30.0  # how often the champion and the published policy are looked for
    results_table: str = RESULTS_TABLE
    outcomes_table: str = OUTCOMES_TABLE


@dataclass
class BatchSummary:
    scored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    labelled: int = 0
    versions: set[str] = field(default_factory=set)


class CsvSink:
    """`event id, customer id, score, segment, decision, model version` per line, once per event id: the ids
    already in the file are read at start, and a last line torn by a crash is cut off first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.seen: set[str] = set()
        if path.exists() and path.stat().st_size:
            raw = path.read_bytes()
            whole = raw[: raw.rfind(b"\n") + 1]
            if len(whole) != len(raw):
                with path.open("r+b") as fh:
                    fh.truncate(len(whole))
                log.warning("cut a torn last line (%d bytes) off %s", len(raw) - len(whole), path)
            rows = list(csv.reader(io.StringIO(whole.decode())))
            self.seen = {r[0] for r in rows[1:] if r}
        else:
            with path.open("w", newline="") as fh:
                csv.writer(fh).writerow(CSV_HEADER)

    def write(self, rows: Iterable[dict[str, Any]]) -> None:
        new = [r for r in rows if r["event_id"] not in self.seen]
        if not new:
            return
        buf = io.StringIO()
        w = csv.writer(buf)
        for r in new:
            decision = "offboard" if r["offboard"] else "keep"
            w.writerow([r["event_id"], r["customer_id"], f"{r['score']:.6f}", r["segment"], decision,
                        r["model_version"]])  # fmt: skip
        with self.path.open("a", newline="") as fh:
            fh.write(buf.getvalue())
            fh.flush()
            os.fsync(fh.fileno())
        self.seen.update(r["event_id"] for r in new)


def _result(event: CustomerEvent, d: Decision, message: Message, scored_at: datetime) -> dict[str, Any]:
    return {
        "event_id": event.event_id, "customer_id": event.customer.customer_id, "model_version": d.version,
        "score": d.score, "segment": d.segment, "offboard": d.offboard, "rules": "; ".join(d.rules),
        "reasons": "; ".join(d.reasons), "as_of": event.as_of or scored_at, "published_at": message.publish_time,
        "scored_at": scored_at,
    }  # fmt: skip


_RESULT_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("customer_id", pa.string()), ("model_version", pa.string()),
    ("score", pa.float64()), ("segment", pa.string()), ("offboard", pa.bool_()), ("rules", pa.string()),
    ("reasons", pa.string()), ("as_of", pa.timestamp("us", "UTC")), ("published_at", pa.timestamp("us", "UTC")),
    ("scored_at", pa.timestamp("us", "UTC")),
])  # fmt: skip
_OUTCOME_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("customer_id", pa.string()), ("account_state", pa.string()),
    ("decided_at", pa.timestamp("us", "UTC")), ("source", pa.string()), ("received_at", pa.timestamp("us", "UTC")),
])  # fmt: skip


class StreamWorker:
    """Pulls micro-batches and handles each (`process`): the loop in `run`, one batch per call in tests."""

    def __init__(
        self, pubsub: PubSub, wh: Warehouse, holder: ModelHolder, policy: PublishedPolicy, config: StreamConfig,
        mapping: Mapping | None = None,
    ) -> None:  # fmt: skip
        self.pubsub, self.wh, self.holder, self.policy, self.config = pubsub, wh, holder, policy, config
        check_table(config.results_table, "results table")
        check_table(config.outcomes_table, "outcomes table")
        self.labelled = LabelledTables(wh, mapping)
        self.csv = CsvSink(config.csv_path) if config.csv_path else None
        self._next_poll = 0.0
        self.refreshes = Refreshes()

    # -- the loop ---------------------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Look for a new champion and a newer published policy; each failing keeps what is loaded, is counted
        and tried again at the next poll (`riskops.scoring.refresh`): the stream never stops for either."""
        if refresh_champion(self.holder, self.refreshes) and self.holder.current is not None:
            MODEL.clear()
            MODEL.labels(self.holder.current.version).set(1)
        self.refreshes.attempt("policy", self.policy.refresh, f"decisions stay on run {self.policy.run_id}'s policy")

    def run(self, stop: threading.Event, on_batch: Callable[[BatchSummary], None] | None = None) -> None:
        """Until `stop` is set: pull a micro-batch, process it. The batch in hand is finished before stopping."""
        while not stop.is_set():
            if time.monotonic() >= self._next_poll:
                self.refresh()
                self._next_poll = time.monotonic() + self.config.poll_s
            messages = self.pubsub.pull_batch(self.config.subscription, self.config.batch_size, self.config.max_wait_s)
            if not messages:
                continue
            try:
                summary = self.process(messages)
            except Exception:  # the batch goes back to Pub/Sub for redelivery; the stream goes on
                FAILED_BATCHES.inc()
                log.exception("micro-batch of %d events not written; handed back for redelivery", len(messages))
                self.pubsub.nack(self.config.subscription, [m.ack_id for m in messages])
                time.sleep(1.0)
                continue
            if on_batch:
                on_batch(summary)

    # -- one micro-batch --------------------------------------------------------------------------------------

    def process(self, messages: list[Message]) -> BatchSummary:
        """Score, write, then acknowledge. Raises (acknowledging nothing) when a write fails."""
        started = time.perf_counter()
        summary = BatchSummary()
        customers: list[tuple[CustomerEvent, Message]] = []
        outcomes: list[tuple[OutcomeEvent, Message]] = []
        dead: list[tuple[Message, str, str | None]] = []
        seen: set[str] = set()
        for message in messages:
            try:
                event = parse_event(message.data)
            except DataContractError as e:
                dead.append((message, str(e), event_id_of(message.data)))
                continue
            except Exception as e:  # nothing about one event may stall the batch: it is that event's dead letter
                log.exception("event %s could not be read", message.message_id)
                dead.append((message, f"event could not be read: {type(e).__name__}: {e}", None))
                continue
            if event.event_id in seen:
                summary.duplicates += 1
                EVENTS.labels(event.kind, "duplicate").inc()
                continue
            seen.add(event.event_id)
            if isinstance(event, CustomerEvent):
                customers.append((event, message))
            else:
                outcomes.append((event, message))
        if customers:
            self._score(customers, dead, summary)
        if outcomes:
            self._append_outcomes(outcomes, dead, summary)
        if dead:
            for m, reason, _ in dead:  # the attribute may be cut to Pub/Sub's limit: the log has the whole reason
                log.warning("dead letter %s: %s", m.message_id, reason)
            self.pubsub.publish_all(self.config.dead_letter_topic, [
                (m.data, {"reason": attribute_value(reason), "message_id": m.message_id, "event_id": event_id or "",
                          "subscription": self.config.subscription})
                for m, reason, event_id in dead
            ])  # fmt: skip
            summary.dead_letters = len(dead)
            EVENTS.labels("unknown", "dead_letter").inc(len(dead))
        self.pubsub.ack(self.config.subscription, [m.ack_id for m in messages])
        now = datetime.now(UTC)
        oldest = min(m.publish_time for m in messages)
        OLDEST_AGE.set((now - oldest).total_seconds())
        for m in messages:
            LATENCY.observe(max((now - m.publish_time).total_seconds(), 0.0))
        BATCH_SECONDS.observe(time.perf_counter() - started)
        return summary

    def _known(self, table: str, key: str, values: list[str]) -> set[str]:
        """Which of `values` already have a row in `table` (none when the table does not exist yet)."""
        if not values or not self.wh.exists(table):
            return set()
        listed = ", ".join(literal(v) for v in values)
        sql = f"SELECT {ident(key)} AS k FROM {self.wh.ref(table)} WHERE {ident(key)} IN ({listed})"
        return {str(v) for v in self.wh.query(sql).column("k").to_pylist()}

    def _score(
        self, events: list[tuple[CustomerEvent, Message]], dead: list[tuple[Message, str, str | None]],
        summary: BatchSummary,
    ) -> None:  # fmt: skip
        m = self.holder.current
        if m is None:
            raise RiskOpsError("no champion to score with", "model registry", "promote a model; events wait unacked")
        known = self._known(self.config.results_table, "event_id", [e.event_id for e, _ in events])
        fresh, vectors = [], []
        for event, message in events:
            if event.event_id in known:
                summary.duplicates += 1
                EVENTS.labels("customer", "duplicate").inc()
                continue
            try:
                vectors.append(request_features(m, event))
            except Exception as e:  # noqa: BLE001 - one event's data, whatever the error: its dead letter, no retry
                dead.append((message, f"features could not be computed: {type(e).__name__}: {e}", event.event_id))
                continue
            fresh.append((event, message))
        if not fresh:
            return
        decisions = decide_many(m, vectors, self.policy.policy_for(m))
        scored_at = datetime.now(UTC)
        rows = [_result(e, d, msg, scored_at) for (e, msg), d in zip(fresh, decisions, strict=True)]
        if self.config.results_topic:
            self.pubsub.publish_all(self.config.results_topic, [
                (json.dumps(r, default=str).encode(), {"event_id": r["event_id"], "model_version": r["model_version"]})
                for r in rows
            ])  # fmt: skip
        if self.csv:
            self.csv.write(rows)
        self.wh.append_new(self.config.results_table, pa.Table.from_pylist(rows, schema=_RESULT_SCHEMA), "event_id")
        summary.scored += len(rows)
        summary.versions.add(m.version)
        EVENTS.labels("customer", "scored").inc(len(rows))

    def _append_outcomes(
        self, events: list[tuple[OutcomeEvent, Message]], dead: list[tuple[Message, str, str | None]],
        summary: BatchSummary,
    ) -> None:  # fmt: skip
        """Labelled samples to the labelled cohort's raw tables (transactions, then customers, then the outcome
        itself last: each write idempotent, so a crash between them is completed by the redelivery)."""
        known = self._known(self.config.outcomes_table, "event_id", [e.event_id for e, _ in events])
        fresh = []
        for event, message in events:
            if event.event_id in known:
                summary.duplicates += 1
                EVENTS.labels("outcome", "duplicate").inc()
            else:
                fresh.append((event, message))
        if not fresh:
            return
        customers, transactions = [], []
        for event, message in fresh:
            record = {**event.customer.record(), "account_state": event.account_state}
            missing = self.labelled.missing_columns(self.labelled.customers, record)
            if missing:
                dead.append((message, f"columns {missing} are not in the labelled customers table "
                             f"{self.labelled.customers}", event.event_id))  # fmt: skip
                continue
            customers.append(record)
            for i, t in enumerate(event.transactions):
                tx = {**t, "customer_id": event.customer.customer_id}
                tx["transaction_id"] = t.get("transaction_id") or f"{event.event_id}:{i}"
                transactions.append(tx)
        appended = [(e, m) for e, m in fresh if all(d[0] is not m for d in dead)]
        if transactions:
            tx_table = self.labelled.transactions
            self.wh.append_new(tx_table, self.labelled.like(tx_table, transactions), "transaction_id")
        if customers:
            c_table = self.labelled.customers
            self.wh.append_new(c_table, self.labelled.like(c_table, customers), "customer_id")
        received = datetime.now(UTC)
        ledger = [
            {"event_id": e.event_id, "customer_id": e.customer.customer_id, "account_state": e.account_state,
             "decided_at": e.decided_at, "source": e.source, "received_at": received}
            for e, _ in appended
        ]  # fmt: skip
        if ledger:
            self.wh.append_new(self.config.outcomes_table, pa.Table.from_pylist(ledger, schema=_OUTCOME_SCHEMA),
                               "event_id")  # fmt: skip
        summary.labelled += len(ledger)
        EVENTS.labels("outcome", "labelled").inc(len(ledger))
        LABELS_PENDING.inc(len(ledger))


class LabelledTables:
    """The labelled cohort's raw tables (as the mapping names them), appended to in their own column types."""

    def __init__(self, wh: Warehouse, mapping: Mapping | None) -> None:
        tables = (mapping or Mapping()).cohorts["labelled"]
        self.wh, self.customers, self.transactions = wh, tables.customers, tables.transactions

    def missing_columns(self, table: str, record: dict[str, Any]) -> list[str]:
        if not self.wh.exists(table):
            return []
        have = self.wh.columns(table)
        return sorted(k for k in record if k not in have)

    def like(self, table: str, rows: list[dict[str, Any]]) -> pa.Table:
        """Rows as an Arrow table in the existing table's column types (a new table takes the rows' own). Columns
        the table does not have are left out: customers were checked for them (`missing_columns`, a dead letter);
        for transactions they are optional contract columns the bank's table does not carry."""
        data = pa.Table.from_pylist(rows)
        if not self.wh.exists(table):
            return data
        types = {"STRING": pa.string(), "FLOAT64": pa.float64(), "INT64": pa.int64(), "BOOL": pa.bool_(),
                 "TIMESTAMP": pa.timestamp("us", "UTC"), "DATETIME": pa.timestamp("us")}  # fmt: skip
        have = self.wh.columns(table)
        columns = {}
        for name in data.column_names:
            if name not in have:
                continue
            target = types.get(have.get(name, ""))
            col = data.column(name)
            if target is not None and col.type != target:
                if pa.types.is_timestamp(target) and target.tz is None and pa.types.is_timestamp(col.type):
                    col = col.cast(pa.timestamp("us", "UTC")).cast(pa.timestamp("us"))  # UTC wall time
                else:
                    col = col.cast(target)
            columns[name] = col
        return pa.table(columns)
