"""The prediction log: batched writes, drops counted when the queue is full or the sink fails, nothing lost on
close."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from riskops.core.errors import ConfigError
from riskops.scoring.predlog import FIELDS, JsonlSink, PredictionLog, Pseudonyms, Records

KEYS = Pseudonyms.from_setting("2026q4:a-long-enough-secret-4242,2026q3:the-previous-secret-0000", production=True)


def _record(i: int) -> dict[str, Any]:
    return {
        "request_id": f"r{i}",
        "time": "2026-11-23T00:00:00+00:00",
        "model_version": "m1",
        "customer_key": KEYS.key(f"c{i}"),
        "key_id": KEYS.current,
        "score": 0.1,
        "segment": "Low",
        "offboard": False,
        "latency_ms": 1.0,
        "shadow": False,
    }


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


def test_pseudonyms_are_keyed_stable_and_survive_a_rotation() -> None:
    """Finding 7: `sha256(id)[:20]` gave `U4242` back to anyone hashing candidate ids; the keyed one does not."""
    target = KEYS.key("U4242")
    assert target == KEYS.key("U4242") != KEYS.key("U4243") and len(target) == 20 and "U4242" not in target
    assert target not in {hashlib.sha256(f"U{i}".encode()).hexdigest()[:20] for i in range(100_000)}
    rotated = Pseudonyms.from_setting("2027q1:the-next-secret-000000000,2026q4:a-long-enough-secret-4242", True)
    assert rotated.current == "2027q1" and rotated.key("U4242") != target
    assert rotated.every_key("U4242")["2026q4"] == target  # records made before the rotation still join


def test_a_missing_or_malformed_pseudonym_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="production without a pseudonym key"):
        Pseudonyms.from_setting("", production=True)
    with pytest.raises(ConfigError, match="KEY_ID:SECRET"):
        Pseudonyms.from_setting("no-colon-here", production=False)
    with pytest.raises(ConfigError, match="16\\+ characters"):
        Pseudonyms.from_setting("k1:short", production=False)
    assert Pseudonyms.from_setting("", production=False).current == "dev"


def _fails() -> Records:
    raise ValueError("a record that cannot be built")


def _batch(b: int, n: int = 400) -> Records:
    ids = [f"c{b * 1000 + i}" for i in range(n)]
    common = {
        "request_id": f"batch{b}",
        "time": "2026-11-23T00:00:00+00:00",
        "model_version": 'm"1',
        "key_id": KEYS.current,
        "latency_ms": 12.5,
        "shadow": b == 2,
    }
    return Records(
        common,
        KEYS.many(ids),
        [i / n for i in range(n)],
        ["Low", "Medium", "High", "Low"] * (n // 4),
        [i % 3 == 0 for i in range(n)],
    )


def test_batch_records_are_built_off_the_request_path_and_flushed_on_close(tmp_path: Path) -> None:
    log = PredictionLog(JsonlSink(tmp_path), flush_s=10)
    for b in range(3):
        assert log.record_many(400, lambda b=b: _batch(b))
    assert log.record_many(7, _fails)
    log.close()
    lines = [json.loads(x) for p in tmp_path.glob("date=*/part-*.jsonl") for x in p.read_text().splitlines()]
    assert len(lines) == log.written == 1200 and log.dropped == 7
    assert lines == [r for b in range(3) for r in _batch(b).rows()]  # the fast lines are the records' JSON


def test_a_batch_writes_the_same_json_lines_as_its_records_one_by_one() -> None:
    records = _batch(1, 8)
    assert records.jsonl() == "".join(json.dumps(r) + "\n" for r in records.rows())
    assert records.customer_key == [KEYS.key(f"c{1000 + i}") for i in range(8)]  # many() is key() per customer
