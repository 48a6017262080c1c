"""The prediction log: one record per scored customer on every route (no raw personal data), written off the
request path.

Requests put records on a bounded queue; a background thread drains it in batches into a sink: JSON lines
under `<home>/predictions/date=YYYY-MM-DD/` locally, or the BigQuery table `<dataset>.predictions` (streaming
inserts, partitioned by day) in production. When the queue is full the record is dropped and counted, and a
sink that fails loses only that batch (counted too), so a slow or broken sink never slows scoring. Closing
the log (the service's shutdown) writes everything queued; a process killed outright loses what was queued
and not yet written: at most `flush_s` (0.5 s) of records (docs/security.md).

Customers are pseudonymised with a keyed hash (HMAC-SHA256 under a secret from the settings), so an id cannot
be recovered by hashing candidate ids; each record names the key it was made with (`key_id`), and keys are
rotated by putting the new one first and keeping the old one for as long as joins need it.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from riskops.core.errors import ConfigError

log = logging.getLogger(__name__)

# The record's fields, in order: the BigQuery table's schema and the JSON lines' keys.
FIELDS = {
    "request_id": "STRING",
    "time": "TIMESTAMP",
    "model_version": "STRING",
    "customer_key": "STRING",
    "key_id": "STRING",
    "score": "FLOAT64",
    "segment": "STRING",
    "offboard": "BOOL",
    "latency_ms": "FLOAT64",
    "shadow": "BOOL",  # a challenger's score of the same request (same request_id), never served
}


DEVELOPMENT_KEY = ("dev", b"riskops-development-key-not-secret")


class Pseudonyms:
    """Keyed customer pseudonyms: `HMAC-SHA256(key, customer_id)`, 20 hex characters. The first key makes new
    records; the others stay to join records made before a rotation (`every_key`)."""

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise ConfigError("no pseudonym key", "RISKOPS_PSEUDONYM_KEYS", "set KEY_ID:SECRET[,OLD_ID:OLD_SECRET]")
        self.keys = dict(keys)
        self.current = keys[0][0]

    @classmethod
    def from_setting(cls, value: str, production: bool) -> Pseudonyms:
        """`KEY_ID:SECRET,OLD_ID:OLD_SECRET,...` (the first signs). Development without one uses a fixed,
        public key; production refuses to start without one."""
        if not value.strip():
            if production:
                raise ConfigError(
                    "refusing to start in production without a pseudonym key",
                    "RISKOPS_PSEUDONYM_KEYS",
                    "set it to KEY_ID:SECRET (a random secret of 32+ bytes, from Secret Manager)",
                )
            log.warning("RISKOPS_PSEUDONYM_KEYS is not set: pseudonyms use the public development key")
            return cls([(DEVELOPMENT_KEY[0], DEVELOPMENT_KEY[1])])
        keys = []
        for part in value.split(","):
            key_id, sep, secret = part.strip().partition(":")
            if not sep or not key_id or len(secret) < 16:
                raise ConfigError(
                    f"pseudonym key {key_id or part.strip()[:8]!r} is not KEY_ID:SECRET (a secret of 16+ characters)",
                    "RISKOPS_PSEUDONYM_KEYS",
                    "write each key as KEY_ID:SECRET, comma-separated, the current one first",
                )
            keys.append((key_id, secret.encode()))
        return cls(keys)

    def key(self, customer_id: str, key_id: str | None = None) -> str:
        return _pseudonym(self.keys[key_id or self.current], customer_id)

    def many(self, customer_ids: list[str]) -> list[str]:
        """The current key's pseudonyms of many customers (a batch request's)."""
        secret = self.keys[self.current]
        return [_pseudonym(secret, c) for c in customer_ids]

    def every_key(self, customer_id: str) -> dict[str, str]:
        """The customer's pseudonym under each configured key: joins outcomes to records made before a rotation."""
        return {key_id: self.key(customer_id, key_id) for key_id in self.keys}


def _pseudonym(secret: bytes, customer_id: str) -> str:
    return hmac.digest(secret, customer_id.encode(), "sha256").hex()[:20]  # one-shot: no HMAC object


@dataclass(frozen=True)
class Records:
    """The records of one batch request, by column: what they share once (`common`: request id, time, model,
    key id, latency, shadow), then per customer its pseudonym, score, segment and decision. Kept columnar until
    a sink writes them: a JSON line is formatted from the columns without a dict per customer (a third of the
    cost), BigQuery's streaming insert gets its dicts (`rows`)."""

    common: dict[str, Any]
    customer_key: list[str]
    score: list[float]
    segment: list[str]
    offboard: list[bool]

    def __len__(self) -> int:
        return len(self.customer_key)

    def rows(self) -> list[dict[str, Any]]:
        return [
            {**self.common, "customer_key": k, "score": s, "segment": g, "offboard": o}
            for k, s, g, o in zip(self.customer_key, self.score, self.segment, self.offboard, strict=True)
        ]

    def jsonl(self) -> str:
        """The records as JSON lines, the same as `json.dumps` of each of `rows()` (checked in the unit tests):
        the common part encoded once, hex pseudonyms and finite scores need no escaping."""
        prefix = json.dumps(self.common, default=str)[:-1]
        segment = {g: json.dumps(g) for g in set(self.segment)}
        return "".join(
            f'{prefix}, "customer_key": "{k}", "score": {s!r}, "segment": {segment[g]}, '
            f'"offboard": {"true" if o else "false"}}}\n'
            for k, s, g, o in zip(self.customer_key, self.score, self.segment, self.offboard, strict=True)
        )


Part = dict[str, Any] | Records  # one record (a single-customer request) or one batch request's records


def as_rows(parts: list[Part]) -> list[dict[str, Any]]:
    return [r for p in parts for r in ([p] if isinstance(p, dict) else p.rows())]


class Sink(Protocol):
    def write(self, parts: list[Part]) -> None: ...

    def close(self) -> None: ...


class JsonlSink:
    """Appends to `<folder>/date=YYYY-MM-DD/part-<pid>.jsonl` (one file per process and day), kept open."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._day = ""
        self._fh: Any = None

    def write(self, parts: list[Part]) -> None:
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        if day != self._day:
            self.close()
            path = self.folder / f"date={day}" / f"part-{os.getpid()}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh, self._day = path.open("a"), day
        self._fh.write("".join(json.dumps(p, default=str) + "\n" if isinstance(p, dict) else p.jsonl() for p in parts))
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class BigQuerySink:
    """Streaming inserts into `<project>.<dataset>.predictions`, created (partitioned by day) when missing; the
    request id is the insert id, so a retried batch is not counted twice."""

    def __init__(self, client: Any, dataset: str, table: str = "predictions") -> None:
        from google.cloud import bigquery

        self.client = client
        self.table = f"{client.project}.{dataset}.{table}"
        t = bigquery.Table(self.table, schema=[bigquery.SchemaField(n, k) for n, k in FIELDS.items()])
        t.time_partitioning = bigquery.TimePartitioning(field="time")
        existing = self.client.create_table(t, exists_ok=True)
        missing = [f for f in t.schema if f.name not in {e.name for e in existing.schema}]
        if missing:  # a table made by an earlier version: new columns are added (nullable), none removed
            existing.schema = [*existing.schema, *missing]
            self.client.update_table(existing, ["schema"])

    def write(self, parts: list[Part]) -> None:
        rows = as_rows(parts)
        row_ids = [f"{r['request_id']}/{r['customer_key']}" for r in rows]  # a batch request has many rows
        errors = self.client.insert_rows_json(self.table, rows, row_ids=row_ids)
        if errors:
            raise RuntimeError(f"BigQuery refused {len(errors)} of {len(rows)} prediction rows: {errors[:3]}")

    def close(self) -> None:
        self.client.close()


Item = dict[str, Any] | tuple[int, Callable[[], Records]]


class PredictionLog:
    def __init__(self, sink: Sink, capacity: int = 10_000, batch: int = 500, flush_s: float = 0.5) -> None:
        self.sink = sink
        self.batch = batch
        self.flush_s = flush_s
        # An item is one record, or (n, make) for n records a batch request scored: `make` builds them here, in
        # the drain thread, so a 10,000-customer request costs the request path one queue put.
        self.queue: queue.Queue[Item | None] = queue.Queue(maxsize=capacity)
        self.dropped = 0
        self.written = 0
        self.on_drop: Callable[[int], None] = lambda n: None  # the service counts drops in a metric
        self._thread = threading.Thread(target=self._drain, name="prediction-log", daemon=True)
        self._thread.start()

    def record(self, entry: dict[str, Any]) -> bool:
        """Queue one record; False (and counted) when the queue is full."""
        try:
            self.queue.put_nowait(entry)
            return True
        except queue.Full:
            self._drop(1)
            return False

    def record_many(self, n: int, make: Callable[[], Records]) -> bool:
        """Queue the `n` records `make()` builds (in the drain thread); False (and counted) when full."""
        try:
            self.queue.put_nowait((n, make))
            return True
        except queue.Full:
            self._drop(n)
            return False

    def _drop(self, n: int) -> None:
        self.dropped += n
        self.on_drop(n)

    def _drain(self) -> None:
        closing = False
        while not closing:
            first = self.queue.get()
            parts: list[Part] = []
            closing = first is None
            n = self._add(parts, first) if first is not None else 0
            # Gather for up to flush_s: one write per interval, not per request (each wake costs the GIL).
            deadline = time.monotonic() + self.flush_s
            while not closing and n < self.batch:
                try:
                    nxt = self.queue.get(timeout=max(deadline - time.monotonic(), 0.0))
                except queue.Empty:
                    break
                if nxt is None:
                    closing = True
                else:
                    n += self._add(parts, nxt)
            if not parts:
                continue
            try:
                self.sink.write(parts)
                self.written += n
            except Exception:  # a failing sink loses this batch, counted, and the service goes on
                log.exception("prediction log: %d records lost", n)
                self._drop(n)
        self.sink.close()

    def _add(self, parts: list[Part], item: Item) -> int:
        """Add the item's records to `parts`; how many."""
        if isinstance(item, dict):
            parts.append(item)
            return 1
        n, make = item
        try:
            records = make()
        except Exception:  # a record that cannot be built is lost, counted, like a failed write
            log.exception("prediction log: %d records could not be built", n)
            self._drop(n)
            return 0
        parts.append(records)
        return len(records)

    def close(self, timeout: float = 5.0) -> None:
        """Flush what is queued, then stop."""
        self.queue.put(None)
        self._thread.join(timeout)
