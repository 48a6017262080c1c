"""The risk console's data at the scoring service on a book of a million customers.

A real scoring run (3,000 generated customers, 600 of them unlabelled and scored with a trained champion,
SHAP contributions, the precomputed book)
is tiled to --customers rows (ids made unique, each tile's neighbours kept within the tile, values
jittered), published as a scoring run, and read by a real uvicorn service (one worker) on 127.0.0.1:

profile   GET /v1/customers/{id}/profile of random customers, one connection (target: p95 < 100 ms)
charts    GET /v1/book/summary (the histogram), /v1/book/customers filtered and sorted, /v1/book/scatter of two
          key features (target: p95 < 300 ms each)
engine    the same questions asked of DuckDB over the book's Parquet file (the engine a warehouse-backed
          console would sit on), measured in the same run; ratios service p95 / DuckDB p95
precompute the console's own precompute timed at full size: every customer's SHAP contributions (the real
          run's model on its feature matrix tiled, beside raw predict on the same rows), percentiles within
          segment, neighbours

  make bench-console   (BOOK_CUSTOMERS=1000000 by default)
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SMALL_AS_OF, report, small_ingested

AS_OF = SMALL_AS_OF
RUN = "20990101-000000-000"


def _small_run(root: Path) -> tuple[Any, Any, Any, tuple[Any, Any, Any]]:
    """A real scoring run of 3,000 customers: its scores, its book, the book's metadata, and the model, its
    card and the scored customers' feature matrix (for the contributions at full size)."""
    from riskops.features.engineering import read_features
    from riskops.model.config import CostMatrix
    from riskops.model.inputs import align
    from riskops.model.registry import Registry
    from riskops.runs.candidate import train_and_register
    from riskops.scoring.book import build_book
    from riskops.scoring.offboard import score_cohort

    wh, store, cfg = small_ingested(root)
    with wh:
        train_and_register(wh, store, AS_OF, cfg, CostMatrix())
        scored = score_cohort(wh, store, AS_OF, "unlabelled")
        book, meta = build_book(wh, store, "unlabelled", scored, RUN)
        model, card = Registry(store).load(scored.model_version)
        X = align(read_features(wh, "unlabelled"), card.features, card.categorical, list(card.dropped))
    return scored, book, meta, (model, card, X)


def _contributions(model: Any, card: Any, X: Any, n: int) -> dict[str, Any]:
    """The book's SHAP pass at full size: every customer's contributions in the book's chunks (`build_book`),
    beside CatBoost's predict on the same rows (the engine under it, same run)."""
    import pandas as pd

    from riskops.model.inputs import predict, shap_values
    from riskops.scoring.book import CHUNK

    big = pd.concat([X] * -(-n // len(X)), ignore_index=True).head(n)
    t = time.perf_counter()
    for i in range(0, n, CHUNK):
        shap_values(model, big.iloc[i : i + CHUNK], card.categorical)
    shap_s = time.perf_counter() - t
    t = time.perf_counter()
    predict(model, big, card.categorical)
    raw_s = time.perf_counter() - t
    return {
        "precompute_contributions_s": round(shap_s, 1),
        "precompute_raw_predict_s": round(raw_s, 1),
        "precompute_contributions_vs_raw_predict": round(shap_s / raw_s, 1),
        "model_trees": model.tree_count_,
        "model_depth": model.get_all_params().get("depth"),
    }


def _tile(book: Any, scores: Any, n: int, rng: np.random.Generator) -> tuple[Any, Any]:
    """`book` and `scores` repeated to n rows: ids `<id>~<tile>`, neighbours within their tile, key values and
    scores jittered so sorts and filters see a million distinct rows."""
    import pandas as pd

    reps = -(-n // len(book))
    tile = np.repeat(np.arange(reps), len(book))[:n]
    big = pd.concat([book] * reps, ignore_index=True).iloc[:n].copy()
    suffix = "~" + pd.Series(tile).astype(str)
    big["customer_id"] = big["customer_id"].astype(str) + suffix.to_numpy()
    offset = tile * len(book)  # neighbours are book row numbers: each tile's point into the tile
    big["neighbours"] = [[j + o for j in ns] for ns, o in zip(big["neighbours"], offset.tolist(), strict=True)]
    jitter = rng.normal(1.0, 0.01, n)
    for col in [c for c in big.columns if c.startswith("value.")]:
        big[col] = big[col].to_numpy(float) * jitter
    big["score"] = np.clip(big["score"].to_numpy(float) * jitter, 0.0, 1.0)
    s = pd.concat([scores] * reps, ignore_index=True).iloc[:n].copy()
    s["customer_id"] = big["customer_id"].to_numpy()
    s["score"] = big["score"].to_numpy()
    return big, s


def _precompute(n: int, keys: int, rng: np.random.Generator) -> dict[str, float]:
    """The console's precompute beyond SHAP, at full size on arrays shaped like a real book's."""
    from riskops.scoring.book import NEIGHBOURS, _neighbours, _percentile

    segment = rng.choice(np.array(["Low", "Medium", "High"], dtype=object), n, p=[0.8, 0.15, 0.05])
    values = rng.lognormal(size=(n, keys))
    t = time.perf_counter()
    for j in range(keys):
        _percentile(values[:, j])
        for seg in ("Low", "Medium", "High"):
            _percentile(values[segment == seg, j])
    pct_s = time.perf_counter() - t
    t = time.perf_counter()
    _neighbours(rng.normal(size=(n, keys)), segment, NEIGHBOURS)
    return {"precompute_percentiles_s": round(pct_s, 2), "precompute_neighbours_s": round(time.perf_counter() - t, 2)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _p95(times: list[float]) -> float:
    return round(float(np.percentile(times, 95)) * 1000, 2)


def _timed(fn: Any, n: int) -> list[float]:
    times = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t)
    return times


def _service(store: Path, ids: list[str], keys: list[str], n: int) -> dict[str, Any]:
    import httpx
    import psutil

    port = _free_port()
    env = {**os.environ, "RISKOPS_ARTIFACT_ROOT": str(store), "RISKOPS_HOME": str(store.parent / "home")}
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "serving.main:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    t = time.perf_counter()
    log = (store.parent / "service.log").open("w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                try:
                    if client.get("/v1/book/summary").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.5)
            else:
                raise SystemExit("the service did not load the book within 600 s")
            load_s = time.perf_counter() - t
            summary = client.get("/v1/book/summary").json()
            assert summary["customers"] == len(ids) == sum(summary["segments"].values()), summary["customers"]

            def get(path: str, params: dict[str, Any] | None = None) -> Any:
                r = client.get(path, params=params)
                assert r.status_code == 200, (path, r.status_code, r.text[:300])
                return r.json()

            rng = np.random.default_rng(1)
            pick = rng.choice(len(ids), n)
            get(f"/v1/customers/{ids[0]}/profile")  # warm
            profile = _timed(lambda i: get(f"/v1/customers/{ids[pick[i]]}/profile"), n)
            charts = max(20, n // 10)
            table_params = {"segment": "High", "sort": keys[0], "order": "desc", "limit": 50}
            scatter_params = {"x": keys[0], "y": keys[1], "limit": 2000}
            table = get("/v1/book/customers", table_params)
            assert table["total"] == summary["segments"]["High"] and len(table["rows"]) == 50
            figures = {
                "service_load_book_s": round(load_s, 1),
                "service_rss_mib": round(psutil.Process(proc.pid).memory_info().rss / 2**20),
                "profile_p50_ms": round(float(np.median(profile)) * 1000, 2),
                "profile_p95_ms": _p95(profile),
                "summary_p95_ms": _p95(_timed(lambda i: get("/v1/book/summary"), charts)),
                "table_p95_ms": _p95(_timed(lambda i: get("/v1/book/customers", table_params), charts)),
                "scatter_p95_ms": _p95(_timed(lambda i: get("/v1/book/scatter", scatter_params), charts)),
                "table_any_p95_ms": _p95(_timed(lambda i: get("/v1/book/customers", {"sort": keys[1]}), charts)),
            }
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
    return figures


def _duckdb(path: Path, ids: list[str], keys: list[str], n: int) -> dict[str, float]:
    """The same questions asked of DuckDB over the book's Parquet file (loaded into a table first)."""
    import duckdb

    con = duckdb.connect()
    t = time.perf_counter()
    con.execute("CREATE TABLE book AS SELECT * FROM read_parquet(?)", [str(path)])
    load_s = time.perf_counter() - t
    rng = np.random.default_rng(1)
    pick = rng.choice(len(ids), n)
    k0, k1 = (f'"value.{k}"' for k in keys[:2])
    profile = _timed(lambda i: con.execute("SELECT * FROM book WHERE customer_id = ?", [ids[pick[i]]]).fetchall(), n)
    charts = max(20, n // 10)
    table_sql = f"SELECT * FROM book WHERE segment = 'High' ORDER BY {k0} DESC LIMIT 50"
    hist_sql = "SELECT segment, floor(score * 40) AS bin, count(*) FROM book GROUP BY ALL"
    scatter_sql = f"SELECT customer_id, {k0}, {k1}, segment FROM book USING SAMPLE 2000 ROWS"
    return {
        "duckdb_load_s": round(load_s, 1),
        "duckdb_profile_p95_ms": _p95(profile),
        "duckdb_histogram_p95_ms": _p95(_timed(lambda i: con.execute(hist_sql).fetchall(), charts)),
        "duckdb_table_p95_ms": _p95(_timed(lambda i: con.execute(table_sql).fetchall(), charts)),
        "duckdb_scatter_p95_ms": _p95(_timed(lambda i: con.execute(scatter_sql).fetchall(), charts)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=500, help="profile requests (charts: a tenth, >= 20)")
    args = parser.parse_args()

    from riskops.io.artifacts import LocalStore
    from riskops.scoring.book import publish_book
    from riskops.scoring.offboard import publish_scores

    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        scored, book, meta, (model, card, X) = _small_run(root)
        small = {"real_book_customers": len(book)} | {f"real_book_{k}_s": v for k, v in meta.seconds.items()}
        took = time.perf_counter() - t
        print(f"   real run of {len(book):,} customers in {took:.0f} s; tiling to {args.customers:,}", flush=True)
        big, scores = _tile(book, scored.scores, args.customers, rng)
        keys = [f.name for f in meta.key_features]
        store = LocalStore(root / "store")
        publish_book(store, RUN, big, meta.model_copy(update={"customers": len(big)}))
        publish_scores(store, RUN, dataclasses.replace(scored, scores=scores))
        book_path = root / "book.parquet"
        book_path.write_bytes(store.read_bytes(f"{RUN}/book.parquet"))
        ids = big["customer_id"].tolist()
        del big
        print("   precompute at full size", flush=True)
        pre = _precompute(args.customers, len(keys), rng) | _contributions(model, card, X, args.customers)
        del model, X
        print("   the service", flush=True)
        svc = _service(root / "store", ids, keys, args.requests)
        print("   DuckDB", flush=True)
        duck = _duckdb(book_path, ids, keys, args.requests)
    figures: dict[str, Any] = {"customers": args.customers, "key_features": len(keys), **small, **pre, **svc, **duck}
    figures |= {
        "ratio_profile_service_vs_duckdb": round(svc["profile_p95_ms"] / duck["duckdb_profile_p95_ms"], 2),
        "ratio_histogram_service_vs_duckdb": round(svc["summary_p95_ms"] / duck["duckdb_histogram_p95_ms"], 2),
        "ratio_table_service_vs_duckdb": round(svc["table_p95_ms"] / duck["duckdb_table_p95_ms"], 2),
        "ratio_scatter_service_vs_duckdb": round(svc["scatter_p95_ms"] / duck["duckdb_scatter_p95_ms"], 2),
        "target_profile_p95_under_100ms": svc["profile_p95_ms"] < 100,
        "target_charts_p95_under_300ms": max(svc["summary_p95_ms"], svc["table_p95_ms"], svc["scatter_p95_ms"]) < 300,
    }
    report("console", figures)


if __name__ == "__main__":
    main()
