"""Load figures of the scoring service: a real uvicorn (one worker) on 127.0.0.1, loaded with wrk.

trivial   GET /healthz, 16 connections: the framework's own ceiling on this machine
lookup    GET /v1/customers/{id}/risk, 16 connections (target: >= half the trivial route, p99 < 10 ms)
score     POST /v1/score with 200 raw transactions, 8 connections (target: p99 < 20 ms)
batch     POST /v1/score/batch, 1,000 customers per request as JSON, 5,000 as an Arrow IPC stream, 2 connections
          (target: >= 100k customers/s)
library   the same /v1/score and JSON batch in this process without HTTP, and CatBoost's own predict on the
          batch's rows; ratios: /v1/score's service time (p50 at one connection) against the library time,
          each batch's customers/s against raw predict
          and /v1/score's service time split into library, body parsing, rows to columns and the rest
          (`score_service_breakdown_ms`)

  make bench-service  (installs wrk from Debian when missing)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SMALL_AS_OF, report, small_ingested

KEY = "bench-key"
AS_OF = SMALL_AS_OF


def _prepare(root: Path) -> dict[str, Any]:
    from riskops.data.contract import as_of_cutoff
    from riskops.features.engineering import read_features
    from riskops.model.config import CostMatrix
    from riskops.runs.candidate import train_and_register
    from riskops.scoring.offboard import publish_scores, score_cohort

    wh, store, cfg = small_ingested(root)
    with wh:
        card, _ = train_and_register(wh, store, AS_OF, cfg, CostMatrix())
        challenger, _ = train_and_register(
            wh, store, AS_OF, cfg.model_copy(update={"seed": 2}), CostMatrix(), promote=False
        )
        scored = score_cohort(wh, store, AS_OF, "unlabelled")
        publish_scores(store, "20990101-000000-000", scored)
        frame = read_features(wh, "unlabelled").head(1000)
        cust = wh.read_table("unlabelled_customers").to_pylist()[0]
        txs = wh.query(
            f"SELECT * FROM main.unlabelled_transactions WHERE customer_id = '{cust['customer_id']}'"
        ).to_pylist()
    # 200 raw transactions for /v1/score: the customer's own, repeated with new ids if it has fewer.
    rows = [dict(t, transaction_id=f"b{i}") for i, t in enumerate((txs * (200 // max(len(txs), 1) + 1))[:200])]
    cutoff = as_of_cutoff(AS_OF) - timedelta(microseconds=1)
    score_body = {
        "customer": {
            "customer_id": cust["customer_id"],
            "signup_ts": cust["signup_ts"].isoformat(),
            "attributes": {k: v for k, v in cust.items() if k not in ("customer_id", "signup_ts")},
        },
        "transactions": [
            {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in t.items() if k != "customer_id"}
            for t in rows
        ],
        "as_of": cutoff.isoformat(),
    }
    import pandas as pd

    cols: dict[str, list[Any]] = {}
    for c in card.features:
        values = frame[c] if c in card.categorical else pd.to_numeric(frame[c], errors="coerce").astype(float)
        cols[c] = [None if isinstance(v, float) and v != v else v for v in values.tolist()]
    batch_body = {"customer_id": frame["customer_id"].tolist(), "features": cols}
    # The Arrow body: the same customers five times over (5,000 rows), typed columns.
    import pyarrow as pa

    table = pa.table(
        {"customer_id": [f"{c}-{k}" for k in range(5) for c in batch_body["customer_id"]]}
        | {c: v * 5 for c, v in cols.items()}
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return {
        "store": root / "store",
        "score": json.dumps(score_body).encode(),
        "batch": batch_body,
        "arrow": sink.getvalue().to_pybytes(),
        "arrow_rows": table.num_rows,
        "customer": cust["customer_id"],
        "challenger": challenger.version,
    }


def _library(store: Path, score_body: bytes, batch_body: dict[str, Any]) -> dict[str, float]:
    """The same requests in this process, without HTTP: the library time of /v1/score and of a JSON batch, and
    CatBoost's own predict on the batch's rows (the engine under both)."""
    import statistics

    import pandas as pd
    from catboost import Pool

    from riskops.features.engineering import TX_COLUMNS
    from riskops.io.artifacts import LocalStore
    from riskops.model.inputs import align
    from riskops.model.registry import Registry
    from riskops.scoring.online import load, score_columns, score_payload
    from serving.schemas import ScoreRequest

    registry = Registry(LocalStore(store))
    m = load(registry, registry.champion() or "")
    body = ScoreRequest.model_validate_json(score_body)
    customer = {"customer_id": body.customer.customer_id, "signup_ts": body.customer.signup_ts}
    customer |= body.customer.attributes
    columns = {c: [t.get(c) for t in body.transactions] for c in TX_COLUMNS}
    as_of = body.as_of
    assert as_of is not None

    def median_ms(f: Any, n: int) -> float:
        times = []
        for _ in range(n):
            t = time.perf_counter()
            f()
            times.append(time.perf_counter() - t)
        return statistics.median(times) * 1000

    parse_ms = median_ms(lambda: ScoreRequest.model_validate_json(score_body), 300)
    columns_ms = median_ms(lambda: {c: [t.get(c) for t in body.transactions] for c in TX_COLUMNS}, 300)
    score_ms = median_ms(lambda: score_payload(m, customer, columns, as_of, m.policy), 300)
    ids, cols = batch_body["customer_id"], batch_body["features"]
    batch_ms = median_ms(lambda: score_columns(m, cols, ids, m.policy), 30)
    frame = pd.DataFrame({"customer_id": ids, **cols})
    X = align(frame, m.card.features, m.card.categorical, list(m.card.dropped))
    raw_ms = median_ms(lambda: m.model.predict_proba(Pool(X, cat_features=m.card.categorical)), 30)
    X5 = pd.concat([X] * 5, ignore_index=True)  # the Arrow body's 5,000 rows
    raw5_ms = median_ms(lambda: m.model.predict_proba(Pool(X5, cat_features=m.card.categorical)), 10)
    return {
        "library_score_ms": round(score_ms, 3),
        "library_parse_score_body_ms": round(parse_ms, 3),
        "library_transactions_to_columns_ms": round(columns_ms, 3),
        "library_batch_customers_per_s": round(len(ids) / batch_ms * 1000),
        "raw_predict_rows_per_s": round(len(ids) / raw_ms * 1000),
        "raw_predict_5000_rows_per_s": round(len(X5) / raw5_ms * 1000),
    }


def _wrk(
    url: str, connections: int, seconds: int, body: bytes | None, root: Path, content_type: str = "application/json"
) -> dict[str, float]:
    args = [
        "wrk",
        "-t",
        str(min(2, connections)),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--latency",
        "-H",
        f"X-API-Key: {KEY}",
    ]
    if body is not None:
        name = hashlib.sha256(body).hexdigest()[:12]
        payload = root / f"body-{name}"
        payload.write_bytes(body)
        script = root / f"post-{name}.lua"
        script.write_text(
            f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "{content_type}"\n'
            f'local f = io.open("{payload}", "rb")\nwrk.body = f:read("*a")\nf:close()\n'
        )
        args += ["-s", str(script)]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def pct(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)", out, re.M)
        assert m, out
        return round(float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)], 3)

    return {
        "rps": round(rps),
        "p50_ms": pct("50"),
        "p99_ms": pct("99"),
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }


def _with_shadow(base: str, prep: dict[str, Any], root: Path) -> dict[str, Any]:
    """/v1/score again with a challenger named: it is scored off the response path, beside the champion."""
    import httpx

    from riskops.io.artifacts import LocalStore
    from riskops.model.registry import Registry

    Registry(LocalStore(prep["store"])).set_challenger(prep["challenger"], "benchmark")
    for _ in range(100):
        if "riskops_shadow_model_info{" in httpx.get(f"{base}/metrics").text:
            break
        time.sleep(0.2)
    c1 = _wrk(f"{base}/v1/score", 1, 5, prep["score"], root)
    c8 = _wrk(f"{base}/v1/score", 8, 10, prep["score"], root)
    shadow = {
        m.group(1): float(m.group(2))
        for m in re.finditer(
            r'^riskops_shadow_scores_total\{result="(\w+)"\} (\S+)$', httpx.get(f"{base}/metrics").text, re.M
        )
    }
    return {"score_200tx_c1_shadow": c1, "score_200tx_c8_shadow": c8, "shadow_scores": shadow}


def main() -> None:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    root = Path(tempfile.mkdtemp(prefix="riskops-bench-service-"))
    print("preparing a model and a scoring run ...", flush=True)
    prep = _prepare(root)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "RISKOPS_ARTIFACT_ROOT": str(prep["store"]),
        "RISKOPS_HOME": str(root / "home"),
        "RISKOPS_MODEL_POLL_S": "1",
        "RISKOPS_API_KEY_HASHES": hashlib.sha256(KEY.encode()).hexdigest(),
    }
    service_log = (root / "service.log").open("wb")  # the JSON access log: one line per request
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "serving.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
        stderr=service_log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(200):
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        print("the same requests in process ...", flush=True)
        library = _library(prep["store"], prep["score"], prep["batch"])
        figures: dict[str, Any] = {}
        print("wrk: trivial, lookup, score, batch ...", flush=True)
        figures["trivial_healthz_c16"] = _wrk(f"{base}/healthz", 16, 10, None, root)
        figures["lookup_c16"] = _wrk(f"{base}/v1/customers/{prep['customer']}/risk", 16, 10, None, root)
        figures["score_200tx_c8"] = _wrk(f"{base}/v1/score", 8, 10, prep["score"], root)
        batch = _wrk(f"{base}/v1/score/batch", 2, 10, json.dumps(prep["batch"]).encode(), root)
        batch["customers_per_s"] = batch["rps"] * len(prep["batch"]["customer_id"])
        figures["batch_json_1000_c2"] = batch
        arrow = _wrk(f"{base}/v1/score/batch", 2, 10, prep["arrow"], root, "application/vnd.apache.arrow.stream")
        arrow["customers_per_s"] = arrow["rps"] * prep["arrow_rows"]
        figures["batch_arrow_5000_c2"] = arrow
        # One connection: the latency is the service time of one request, to set against the library's.
        figures["trivial_healthz_c1"] = _wrk(f"{base}/healthz", 1, 5, None, root)
        figures["score_200tx_c1"] = _wrk(f"{base}/v1/score", 1, 5, prep["score"], root)
        figures |= _with_shadow(base, prep, root)
        figures |= library
        raw = library["raw_predict_rows_per_s"]
        figures["ratios"] = {
            "lookup_vs_trivial": round(figures["lookup_c16"]["rps"] / figures["trivial_healthz_c16"]["rps"], 2),
            "score_service_p50_vs_library": round(figures["score_200tx_c1"]["p50_ms"] / library["library_score_ms"], 2),
            # where the service time goes: the library's scoring, parsing the body and turning its rows into columns
            # (both outside `score_payload`), and the rest (framework, HTTP server, socket; not split further: the
            # app called in process measured slower than over HTTP, so that split was not trusted)
            "score_service_breakdown_ms": {
                "library": library["library_score_ms"],
                "parse_body": library["library_parse_score_body_ms"],
                "rows_to_columns": library["library_transactions_to_columns_ms"],
                "framework_http_socket": round(
                    figures["score_200tx_c1"]["p50_ms"]
                    - library["library_score_ms"]
                    - library["library_parse_score_body_ms"]
                    - library["library_transactions_to_columns_ms"],
                    3,
                ),
            },
            "shadow_p50_c1_vs_without": round(
                figures["score_200tx_c1_shadow"]["p50_ms"] / figures["score_200tx_c1"]["p50_ms"], 2
            ),
            "shadow_rps_c8_vs_without": round(
                figures["score_200tx_c8_shadow"]["rps"] / figures["score_200tx_c8"]["rps"], 2
            ),
            "batch_json_vs_raw_predict": round(batch["customers_per_s"] / raw, 3),
            "batch_arrow_vs_raw_predict": round(arrow["customers_per_s"] / library["raw_predict_5000_rows_per_s"], 3),
            "batch_library_vs_raw_predict": round(library["library_batch_customers_per_s"] / raw, 3),
        }
        report("service", figures)
    finally:
        proc.terminate()
        proc.wait(10)
        service_log.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
