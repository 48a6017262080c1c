"""Shared helpers for the benchmarks: peak memory of this process, figures printed and saved as JSON."""

from __future__ import annotations

import json
import platform
import resource
from pathlib import Path
from typing import Any

import psutil

OUT = Path(__file__).resolve().parent / "out"


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> dict[str, Any]:
    return {
        "cpus": psutil.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
    }


def report(name: str, figures: dict[str, Any]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    figures = {"benchmark": name, "machine": machine(), **figures}
    (OUT / f"{name}.json").write_text(json.dumps(figures, indent=2))
    width = max(len(k) for k in figures)
    print(f"== {name}")
    for k, v in figures.items():
        if k not in ("benchmark",):
            print(f"  {k:<{width}}  {v:,}" if isinstance(v, int | float) else f"  {k:<{width}}  {v}")
