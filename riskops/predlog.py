"""The prediction log: one line per scored request (no raw personal data), written off the request path.

Requests put records on a bounded queue; a background thread appends them as JSON lines to
`predictions/date=YYYY-MM-DD/part-<pid>.jsonl` under a local folder. When the queue is full the record is
dropped and counted, so a slow disk never slows scoring. (A BigQuery sink would drain the same queue.)
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def customer_key(customer_id: str) -> str:
    """A stable pseudonym: joins predictions to later outcomes without logging the id itself."""
    return hashlib.sha256(customer_id.encode()).hexdigest()[:20]


class PredictionLog:
    def __init__(self, folder: Path, capacity: int = 10_000) -> None:
        self.folder = folder
        self.queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=capacity)
        self.dropped = 0
        self.written = 0
        self._thread = threading.Thread(target=self._drain, name="prediction-log", daemon=True)
        self._thread.start()

    def record(self, entry: dict[str, Any]) -> bool:
        """Queue one record; False (and counted) when the queue is full."""
        try:
            self.queue.put_nowait(entry)
            return True
        except queue.Full:
            self.dropped += 1
            return False

    def _drain(self) -> None:
        while True:
            entry = self.queue.get()
            if entry is None:
                return
            day = datetime.now(UTC).strftime("%Y-%m-%d")
            path = self.folder / f"date={day}" / f"part-{os.getpid()}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a") as fh:
                fh.write(json.dumps(entry, default=str) + "\n")
                batch = 1
                while batch < 500:  # write what is waiting in one go
                    try:
                        nxt = self.queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        self.written += batch
                        return
                    fh.write(json.dumps(nxt, default=str) + "\n")
                    batch += 1
            self.written += batch

    def close(self, timeout: float = 5.0) -> None:
        self.queue.put(None)
        self._thread.join(timeout)
