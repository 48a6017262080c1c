"""Generator throughput: transactions written per second and peak memory.

python bench/bench_generate.py --customers 200000
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, peak_rss_mib, report

from riskops.data.synth import generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--customers", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--keep", action="store_true", help="keep the dataset (bench-ingest reuses it)")
    args = ap.parse_args()
    out = OUT / f"gen-{args.customers}"
    t = time.perf_counter()
    last = [t]

    def progress(cohort: str, done: int, total: int) -> None:
        if time.perf_counter() - last[0] > 5:
            last[0] = time.perf_counter()
            print(f"  {done:,}/{total:,} customers", flush=True)

    s = generate(out, customers=args.customers, seed=args.seed, tick=progress)
    seconds = time.perf_counter() - t
    total = sum(s.transactions.values())
    size = sum(p.stat().st_size for p in out.rglob("*.parquet"))
    report(
        "generate",
        {
            "customers": args.customers,
            "transactions": total,
            "seconds": round(seconds, 2),
            "transactions_per_second": round(total / seconds),
            "peak_rss_mib": round(peak_rss_mib()),
            "parquet_mib": round(size / 2**20),
            "suspended_share": s.suspended_share,
        },
    )
    if not args.keep:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
