"""The prediction log: one record per scored request (no raw personal data), written off the request path.

Requests put records on a bounded queue; a background thread drains it in batches into a sink: JSON lines
under `<home>/predictions/date=YYYY-MM-DD/` locally, or the BigQuery table `<dataset>.predictions` (streaming
inserts, partitioned by day) in production. When the queue is full the record is dropped and counted, and a
sink that fails loses only that batch (counted too), so a slow or broken sink never slows scoring.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

# The record's fields, in order: the BigQuery table's schema and the JSON lines' keys.
FIELDS = {
    "request_id": "STRING",
    "time": "TIMESTAMP",
    "model_version": "STRING",
    "customer_key": "STRING",
    "score": "FLOAT64",
    "segment": "STRING",
    "offboard": "BOOL",
    "latency_ms": "FLOAT64",
}


def customer_key(customer_id: str) -> str:
    """A stable pseudonym: joins predictions to later outcomes without logging the id itself."""
    return hashlib.sha256(customer_id.encode()).hexdigest()[:20]


class Sink(Protocol):
    def write(self, rows: list[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


class JsonlSink:
    """Appends to `<folder>/date=YYYY-MM-DD/part-<pid>.jsonl` (one file per process and day), kept open."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._day = ""
        self._fh: Any = None

    def write(self, rows: list[dict[str, Any]]) -> None:
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        if day != self._day:
            self.close()
            path = self.folder / f"date={day}" / f"part-{os.getpid()}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh, self._day = path.open("a"), day
        self._fh.write("".join(json.dumps(r, default=str) + "\n" for r in rows))
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
        self.client.create_table(t, exists_ok=True)

    def write(self, rows: list[dict[str, Any]]) -> None:
        errors = self.client.insert_rows_json(self.table, rows, row_ids=[r["request_id"] for r in rows])
        if errors:
            raise RuntimeError(f"BigQuery refused {len(errors)} of {len(rows)} prediction rows: {errors[:3]}")

    def close(self) -> None:
        self.client.close()


class PredictionLog:
    def __init__(self, sink: Sink, capacity: int = 10_000, batch: int = 500, flush_s: float = 0.5) -> None:
        self.sink = sink
        self.batch = batch
        self.flush_s = flush_s
        self.queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=capacity)
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

    def _drop(self, n: int) -> None:
        self.dropped += n
        self.on_drop(n)

    def _drain(self) -> None:
        closing = False
        while not closing:
            first = self.queue.get()
            rows = [] if first is None else [first]
            closing = first is None
            # Gather for up to flush_s: one write per interval, not per request (each wake costs the GIL).
            deadline = time.monotonic() + self.flush_s
            while not closing and len(rows) < self.batch:
                try:
                    nxt = self.queue.get(timeout=max(deadline - time.monotonic(), 0.0))
                except queue.Empty:
                    break
                if nxt is None:
                    closing = True
                else:
                    rows.append(nxt)
            if not rows:
                continue
            try:
                self.sink.write(rows)
                self.written += len(rows)
            except Exception:  # a failing sink loses this batch, counted, and the service goes on
                log.exception("prediction log: %d records lost", len(rows))
                self._drop(len(rows))
        self.sink.close()

    def close(self, timeout: float = 5.0) -> None:
        """Flush what is queued, then stop."""
        self.queue.put(None)
        self._thread.join(timeout)
