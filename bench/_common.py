"""Shared helpers for the benchmarks: peak memory of this process, figures printed and saved as JSON."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psutil

OUT = Path(__file__).resolve().parent / "out"
_STARTED = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict[str, Any]:
    return {
        "cpus": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
    }


def run_id() -> str:
    """One id for all benchmarks of one `make bench` (BENCH_RUN, set by the Makefile), else this process's start."""
    return os.environ.get("BENCH_RUN") or _STARTED


def report(name: str, figures: dict[str, Any]) -> None:
    """Print the figures; write them to bench/out/<name>.json (the latest) and bench/out/runs/<run>/<name>.json,
    so runs can be compared side by side."""
    figures = {"benchmark": name, "run": run_id(), "machine": machine(), **figures}
    text = json.dumps(figures, indent=2)
    kept = OUT / "runs" / run_id()
    kept.mkdir(parents=True, exist_ok=True)
    (kept / f"{name}.json").write_text(text)
    (OUT / f"{name}.json").write_text(text)
    width = max(len(k) for k in figures)
    print(f"== {name}")
    for k, v in figures.items():
        if k not in ("benchmark", "run"):
            print(f"  {k:<{width}}  {v:,}" if isinstance(v, int | float) else f"  {k:<{width}}  {v}")


def run_phase(script: str, *args: str) -> dict[str, Any]:
    """Run one phase of a benchmark in a fresh process (its own peak memory); its last stdout line is JSON."""
    out = subprocess.run([sys.executable, script, *args], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{Path(script).name} {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def ensure_dataset(customers: int) -> Path:
    """The generated benchmark dataset for `customers`, made once and reused."""
    data = OUT / f"gen-{customers}"
    if not (data / "manifest.json").exists():
        print(f"generating {customers:,} customers into {data} ...", flush=True)
        gen = str(Path(__file__).parent / "bench_generate.py")
        subprocess.run([sys.executable, gen, "--customers", str(customers), "--keep"], check=True)
    return data


SMALL_AS_OF = date(2026, 9, 30)


def small_ingested(root: Path) -> tuple[Any, Any, Any]:
    """3,000 generated customers loaded and ingested under `root`: (the open DuckDB warehouse, the store, a
    quick training config: 3 folds, no tuning, 300 trees at most). The caller closes the warehouse."""
    from riskops.data.ingest import ingest_cohort
    from riskops.data.sources import load_dataset
    from riskops.data.synth import generate
    from riskops.io.artifacts import LocalStore
    from riskops.io.warehouse.duckdb import DuckDBWarehouse
    from riskops.model.config import TrainConfig

    generate(root / "data", customers=3000, seed=5)
    store = LocalStore(root / "store")
    wh = DuckDBWarehouse(root / "w.duckdb")
    load_dataset(wh, root / "data")
    for cohort in ("labelled", "unlabelled"):
        ingest_cohort(wh, cohort, SMALL_AS_OF, store, f"v/{cohort}")  # type: ignore[arg-type]
    cfg = TrainConfig(folds=3, trials=0, baselines=False, imbalance="none", max_iterations=300)
    return wh, store, cfg
