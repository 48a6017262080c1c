"""Drift in the warehouse: every feature of a 1M-customer cohort and its scores counted on a reference profile's
frozen bins (what each scoring run does), beside building those features from the transactions in the same run.

The labelled cohort of the benchmark dataset (200k customers: 160k labelled, 20.4M transactions) has its
features built (timed), a reference profile is frozen from 20,000 of its customers, and the features table
repeated to 1,000,000 rows is measured against it; the drift of the 160k-customer table itself too.

python bench/bench_drift.py [--customers 200000]
"""

from __future__ import annotations

import argparse
import time
from datetime import date

import numpy as np
import pyarrow as pa
from _common import OUT, ensure_dataset, peak_rss_mib, report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--customers", type=int, default=200_000)
    args = ap.parse_args()
    from riskops.data.contract import as_of_cutoff
    from riskops.data.ingest import ingest_cohort
    from riskops.data.sources import dataset_as_of, load_source
    from riskops.features.engineering import build_features, read_features
    from riskops.io.artifacts import LocalStore
    from riskops.io.warehouse.duckdb import DuckDBWarehouse
    from riskops.model.reference import build_reference
    from riskops.scoring.drift import drift_of
    from riskops.scoring.policy import DriftPolicy

    data = ensure_dataset(args.customers)
    as_of = date.fromisoformat(dataset_as_of(data))
    db = OUT / "drift.duckdb"
    db.unlink(missing_ok=True)
    with DuckDBWarehouse(db) as wh:
        print("load + ingest ...", flush=True)
        load_source(wh, "raw_labelled_customers", data / "labelled" / "customers")
        load_source(wh, "raw_labelled_transactions", data / "labelled" / "transactions")
        ingest_cohort(wh, "labelled", as_of, LocalStore(OUT / "drift-report"), "x")
        transactions = wh.count("labelled_transactions")
        print("features ...", flush=True)
        t = time.perf_counter()
        fs = build_features(wh, "labelled", as_of_cutoff(as_of))
        features_s = time.perf_counter() - t
        wh.execute("CREATE TABLE main.bench_features AS SELECT * FROM main.labelled_features")
        frame = read_features(wh, "labelled")
        rng = np.random.default_rng(0)
        holdout = frame.sample(20_000, random_state=0)
        ref = build_reference("bench", holdout, fs.names, fs.categorical, rng.uniform(size=len(holdout)), 0.5, 0.25)
        customers = len(frame)
        wh.load("bench_scores", pa.table({"score": rng.uniform(size=customers)}))
        wh.execute(
            "CREATE TABLE main.bench_features_1m AS SELECT f.* FROM main.bench_features AS f "
            f"CROSS JOIN UNNEST(GENERATE_ARRAY(1, {-(-1_000_000 // customers)})) AS k LIMIT 1000000"
        )
        wh.load("bench_scores_1m", pa.table({"score": rng.uniform(size=1_000_000)}))
        print("drift ...", flush=True)
        t = time.perf_counter()
        same = drift_of(wh, ref, "bench_features", "bench_scores", DriftPolicy())
        drift_s = time.perf_counter() - t
        t = time.perf_counter()
        big = drift_of(wh, ref, "bench_features_1m", "bench_scores_1m", DriftPolicy())
        drift_1m_s = time.perf_counter() - t
    db.unlink(missing_ok=True)
    report(
        "drift",
        {
            "transactions": transactions,
            "customers": customers,
            "features": len(fs.names),
            "features_seconds": round(features_s, 2),
            "drift_seconds_same_customers": round(drift_s, 2),
            "drift_vs_features_same_customers": round(drift_s / features_s, 3),
            "drift_rows_1m": big.rows,
            "drift_seconds_1m": round(drift_1m_s, 2),
            "drift_1m_vs_features_of_160k": round(drift_1m_s / features_s, 3),
            "drifted_same_population": same.drifted(),
            "peak_rss_mib": round(peak_rss_mib()),
            "target": "drift of 1M customers x all features <= ~2x building those features",
        },
    )


if __name__ == "__main__":
    main()
