"""The prediction log: batched writes, drops counted when the queue is full or the sink fails, nothing lost on
close."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from riskops.scoring.predlog import FIELDS, JsonlSink, PredictionLog, customer_key


def _record(i: int) -> dict[str, Any]:
    return {"request_id": f"r{i}", "time": "2026-11-23T00:00:00+00:00", "model_version": "m1",
            "customer_key": customer_key(f"c{i}"), "score": 0.1, "segment": "Low", "offboard": False,
            "latency_ms": 1.0}  # fmt: skip


def test_records_reach_the_jsonl_file_in_batches_and_close_flushes(tmp_path: Path) -> None:
    log = PredictionLog(JsonlSink(tmp_path), flush_s=10)  # a long interval: only close() can flush
    for i in range(1200):
        assert log.record(_record(i))
    log.close()
    lines = [json.loads(x) for p in tmp_path.glob("date=*/part-*.jsonl") for x in p.read_text().splitlines()]
    assert [x["request_id"] for x in lines] == [f"r{i}" for i in range(1200)]
    assert set(lines[0]) == set(FIELDS) and log.written == 1200 and log.dropped == 0


class _Blocked:
    """A sink that holds the drain thread until released, then fails its first batch."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.batches: list[int] = []

    def write(self, rows: list[dict[str, Any]]) -> None:
        self.release.wait(5)
        self.batches.append(len(rows))
        if len(self.batches) == 1:
            raise OSError("disk full")

    def close(self) -> None:
        pass


def test_a_full_queue_and_a_failing_sink_are_counted_not_raised() -> None:
    sink = _Blocked()
    drops: list[int] = []
    log = PredictionLog(sink, capacity=5, batch=1, flush_s=0)
    log.on_drop = drops.append
    accepted = [log.record(_record(i)) for i in range(20)]
    assert accepted.count(False) >= 14  # at most 5 queued + 1 held by the blocked sink
    sink.release.set()
    log.close()
    assert log.dropped == sum(drops) == accepted.count(False) + 1  # + the failed batch of one
    assert log.written == accepted.count(True) - 1


def test_customer_key_is_stable_and_not_the_id() -> None:
    assert customer_key("C-1") == customer_key("C-1") != customer_key("C-2")
    assert "C-1" not in customer_key("C-1") and len(customer_key("C-1")) == 20
