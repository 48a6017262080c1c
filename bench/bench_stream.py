"""The stream worker on Google's Pub/Sub emulator: events per second of one worker (customers with 50
transactions each, from a backlog), then the latency from an event's publication to its result at a steady
rate of half that throughput (target: p99 under 1 s at 500 events/s on 2 cores), beside the library's own
time to score the same events in process (features + one predict + reasons), measured in the same run.

python bench/bench_stream.py [--events 6000] [--steady-s 20]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from _common import report
from bench_service import _prepare

PROJECT = "riskops-bench"
TX_PER_EVENT = 50


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _events(data: Path, n: int) -> list[dict[str, Any]]:
    """n customer events cycling over the unlabelled cohort, each with 50 transactions (its latest, repeated
    with new ids when it has fewer)."""
    from streaming.feed import customer_events

    base = [e for e in customer_events(data) if e["transactions"]]
    out = []
    for i in range(n):
        e = base[i % len(base)]
        txs = (e["transactions"] * (TX_PER_EVENT // len(e["transactions"]) + 1))[-TX_PER_EVENT:]
        txs = [dict(t, transaction_id=f"b{i}-{k}") for k, t in enumerate(txs)]
        out.append({**e, "event_id": f"bench-{i}", "transactions": txs})
    return out


def _library(store: Path, events: list[dict[str, Any]]) -> float:
    """Events per second of the library alone: parse, features, one predict per 200, reasons."""
    from riskops.io.artifacts import LocalStore
    from riskops.model.registry import Registry
    from riskops.scoring.online import decide_many, load, request_features
    from riskops.scoring.payloads import parse_event

    registry = Registry(LocalStore(store))
    version = registry.champion()
    assert version is not None
    m = load(registry, version)
    bodies = [json.dumps(e).encode() for e in events[:2000]]
    started = time.perf_counter()
    for i in range(0, len(bodies), 200):
        parsed = [parse_event(b) for b in bodies[i : i + 200]]
        decide_many(m, [request_features(m, e) for e in parsed], m.policy)  # type: ignore[arg-type]
    return len(bodies) / (time.perf_counter() - started)


def _results(ps: Any, sub: str, want: int, timeout_s: float) -> list[tuple[float, float]]:
    """(event published, result published) in epoch seconds for `want` results from the results topic."""
    got: dict[str, tuple[float, float]] = {}
    deadline = time.monotonic() + timeout_s
    while len(got) < want and time.monotonic() < deadline:
        batch = ps.pull(sub, 1000, 1.0)
        if batch:
            ps.ack(sub, [m.ack_id for m in batch])
        for m in batch:
            r = json.loads(m.data)
            got[r["event_id"]] = (datetime.fromisoformat(r["published_at"]).timestamp(), m.publish_time.timestamp())
    return list(got.values())


def _acked(metrics_url: str, seconds: float) -> tuple[float, float]:
    """(events acknowledged within `seconds` of publication, all events acknowledged): the worker's latency
    histogram, i.e. until the results were written everywhere."""
    import httpx

    text = httpx.get(metrics_url).text
    bucket = re.search(rf'riskops_stream_latency_seconds_bucket{{le="{seconds:.1f}"}} ([0-9.e+]+)', text)
    count = re.search(r"riskops_stream_latency_seconds_count ([0-9.e+]+)", text)
    return (float(bucket.group(1)) if bucket else 0.0), (float(count.group(1)) if count else 0.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=6000)
    ap.add_argument("--steady-s", type=float, default=20.0)
    args = ap.parse_args()
    if not shutil.which("gcloud"):
        raise SystemExit("the Pub/Sub emulator is needed: apt-get install google-cloud-cli-pubsub-emulator")
    root = Path(tempfile.mkdtemp(prefix="riskops-bench-stream-"))
    print("preparing a model ...", flush=True)
    prep = _prepare(root)
    events = _events(root / "data", args.events)
    library_eps = _library(prep["store"], events)
    port, metrics_port = _port(), _port()
    (root / "pubsub").mkdir()
    emulator = subprocess.Popen(
        [
            "gcloud",
            "beta",
            "emulators",
            "pubsub",
            "start",
            f"--host-port=127.0.0.1:{port}",
            f"--data-dir={root / 'pubsub'}",
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    os.environ["PUBSUB_EMULATOR_HOST"] = f"127.0.0.1:{port}"
    worker = None
    try:
        from riskops.io.pubsub import PubSub

        for _ in range(300):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        ps = PubSub(PROJECT)
        ps.ensure("events", ["events-w"])
        ps.ensure("dead", ["dead-inspect"])
        ps.ensure("results", ["results-bench"])
        bodies = [json.dumps(e).encode() for e in events]
        print(f"backlog of {len(bodies):,} events ...", flush=True)
        ps.publish_all("events", [(b, {}) for b in bodies])
        env = {**os.environ, "RISKOPS_ARTIFACT_ROOT": str(prep["store"]), "RISKOPS_HOME": str(root / "home")}
        worker = subprocess.Popen(
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
                "--duckdb",
                str(root / "stream.duckdb"),
                "--metrics-port",
                str(metrics_port),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(root / "worker.log").open("wb"),
        )
        backlog = _results(ps, "results-bench", len(bodies), 600)
        done = sorted(r for _, r in backlog)
        # From the first result to the last: the worker's start-up (model load) is not throughput.
        eps = (len(done) - 1) / (done[-1] - done[0])
        rate = eps / 2
        n = int(rate * args.steady_s)
        print(
            f"{eps:,.0f} events/s from the backlog; steady {rate:,.0f} events/s for {args.steady_s:.0f}s ...",
            flush=True,
        )
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        before = _acked(metrics_url, 1.0)
        steady = [json.dumps({**events[i % len(events)], "event_id": f"steady-{i}"}).encode() for i in range(n)]
        started = time.monotonic()
        for i in range(0, n, max(1, round(rate / 10))):
            chunk = steady[i : i + max(1, round(rate / 10))]
            ps.publish_all("events", [(b, {}) for b in chunk])
            wait = started + (i + len(chunk)) / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        latencies = np.array([r - p for p, r in _results(ps, "results-bench", len(steady), 120)])
        after = _acked(metrics_url, 1.0)
        within_1s = (after[0] - before[0]) / max(after[1] - before[1], 1)
        ps.close()
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=30)
        os.killpg(emulator.pid, signal.SIGTERM)
        emulator.wait(timeout=30)
    figures = {
        "events": len(bodies),
        "transactions_per_event": TX_PER_EVENT,
        "worker_events_per_s": round(eps, 1),
        "library_events_per_s": round(library_eps, 1),
        "worker_vs_library": round(eps / library_eps, 2),
        "steady_rate_events_per_s": round(rate, 1),
        "steady_results": len(latencies),
        "latency_p50_ms": round(float(np.percentile(latencies, 50)) * 1000, 1),
        "latency_p99_ms": round(float(np.percentile(latencies, 99)) * 1000, 1),
        "latency_max_ms": round(float(latencies.max()) * 1000, 1),
        "steady_acked_within_1s_share": round(within_1s, 4),
        "target": "p99 < 1000 ms at 500 events/s on 2 cores",
    }
    report("stream", figures)


if __name__ == "__main__":
    main()
