"""Ingest + validation of the labelled cohort (~20M transactions for 200k customers) from DuckDB.

Each phase runs in its own process so peak memory is the step's own:
  1. generate the dataset (reused from bench/out when present),
  2. load the raw tables into a DuckDB file,
  3. ingest + validate, then the floor: one plain CREATE TABLE AS SELECT copy of the same raw table.

    python bench/bench_ingest.py --customers 200000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, ensure_dataset, peak_rss_mib, report, run_phase


def _phase_load(data: Path, db: Path) -> None:
    from riskops.data.sources import load_source
    from riskops.io.warehouse.duckdb import DuckDBWarehouse

    db.unlink(missing_ok=True)
    t = time.perf_counter()
    with DuckDBWarehouse(db) as wh:
        load_source(wh, "raw_labelled_customers", data / "labelled" / "customers")
        n = load_source(wh, "raw_labelled_transactions", data / "labelled" / "transactions")
    print(json.dumps({"load_seconds": round(time.perf_counter() - t, 2), "rows": n}))


def _phase_ingest(db: Path, as_of: str) -> None:
    from riskops.data.ingest import ingest_cohort
    from riskops.io.artifacts import LocalStore
    from riskops.io.warehouse.duckdb import DuckDBWarehouse

    with DuckDBWarehouse(db) as wh:
        t = time.perf_counter()
        r = ingest_cohort(wh, "labelled", date.fromisoformat(as_of), LocalStore(OUT / "ingest-report"), "labelled")
        ingest_s = time.perf_counter() - t
        t = time.perf_counter()
        wh.execute("CREATE OR REPLACE TABLE main.floor_copy AS SELECT * FROM main.raw_labelled_transactions")
        floor_s = time.perf_counter() - t
        wh.drop("floor_copy")
    print(
        json.dumps(
            {
                "ingest_seconds": round(ingest_s, 2),
                "floor_copy_seconds": round(floor_s, 2),
                "transactions_in": r.transactions.rows_in,
                "quarantined": r.transactions.rows_quarantined,
                "peak_rss_mib": round(peak_rss_mib()),
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--phase", choices=["load", "ingest"], help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--as-of", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase == "load":
        return _phase_load(args.data, args.db)
    if args.phase == "ingest":
        return _phase_ingest(args.db, args.as_of)

    data = ensure_dataset(args.customers)
    as_of = json.loads((data / "manifest.json").read_text())["as_of"]
    db = OUT / "ingest.duckdb"
    print("loading raw tables into DuckDB ...", flush=True)
    load = run_phase(__file__, "--phase", "load", "--data", str(data), "--db", str(db))
    print("ingest + validation ...", flush=True)
    ing = run_phase(__file__, "--phase", "ingest", "--db", str(db), "--as-of", as_of)
    n = int(ing["transactions_in"])
    report(
        "ingest",
        {
            "customers": args.customers,
            "transactions": n,
            "load_seconds": load["load_seconds"],
            "ingest_seconds": ing["ingest_seconds"],
            "transactions_per_second": round(n / ing["ingest_seconds"]),
            "floor_copy_seconds": ing["floor_copy_seconds"],
            "ingest_vs_floor": round(ing["ingest_seconds"] / ing["floor_copy_seconds"], 2),
            "peak_rss_mib": ing["peak_rss_mib"],
            "target": ">= 2,000,000 transactions/s and < 4096 MiB",
        },
    )
    db.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
