"""How each step's time and memory grow with the book: synthetic books of 20k and 200k customers (and 2M with
--full, `make bench-scale SCALE=full`), every step of a run timed with its peak resident memory, each step in its
own process on the run's DuckDB file (as a pipeline task runs it), then a table with each step's growth exponent
between sizes (time ~ customers^k; k <= 1.15 is the target from 200k to 2M).

Steps: generate, load (the dataset into the raw tables), ingest (validation into clean and quarantine tables),
features, train (CatBoost, selection on a sample above TrainConfig.selection_rows), evaluate, ingest and score the
unlabelled cohort (segments, rules and SHAP reasons), gather (the list, drift and the console's book
precompute). The DuckDB memory limit is RISKOPS_DUCKDB_MEMORY_LIMIT (default 3GB): DuckDB spills past it.

    python bench/bench_scale.py                 # 20k and 200k customers
    python bench/bench_scale.py --full          # and 2M: ~60 minutes, ~12 GiB, ~25 GB of free disk
    python bench/bench_scale.py --add --sizes 2000000   # 2M beside the sizes measured before

At 2M the ingest's validation of 200M labelled transactions spills more than 9 GB of DuckDB temporary files
(at a 3 GB and a 10 GB memory limit); with less free disk it stops there.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, peak_rss_mib, report

SIZES = (20_000, 200_000)
FULL = 2_000_000
STEPS = ("generate", "load", "ingest", "features", "train", "evaluate", "score", "gather")
RUN = "scale"


def _config(work: Path) -> dict[str, Any]:
    from riskops.core.config import Settings, StepConfig

    settings = Settings(warehouse="duckdb", artifact_root=str(work / "store"), home=work, book="")
    return StepConfig.from_settings(settings, work / "warehouse.duckdb").model_dump()


def _step(name: str, customers: int, work: Path) -> dict[str, Any]:
    """One step of the run on `work`, in this process; what it reports besides time and memory."""
    from riskops.data.sources import dataset_as_of, load_dataset
    from riskops.data.synth import generate
    from riskops.io.warehouse.duckdb import DuckDBWarehouse
    from riskops.runs import steps

    data, config = work / "data", _config(work)
    if name == "generate":
        generate(data, customers=customers, seed=7)
        (work / "as_of").write_text(dataset_as_of(data))
        return {}
    day = (work / "as_of").read_text()
    if name == "load":
        with DuckDBWarehouse(work / "warehouse.duckdb") as wh:
            load_dataset(wh, data)
        size = sum(f.stat().st_size for f in data.rglob("*") if f.is_file()) / 2**30
        shutil.rmtree(data)  # in the raw tables now; the disk is needed for the warehouse at 2M
        return {"figure": f"dataset {size:.2f} GiB loaded (then removed)"}
    if name == "ingest":
        return {"figure": steps.ingest(config, "labelled", day, RUN).record.figure}
    if name == "features":
        return {"figure": steps.features(config, "labelled", day, RUN).record.figure}
    if name == "train":
        result = steps.train(config, day, RUN, trials=0, seed=7)
        (work / "version").write_text(str(result.value))
        return {"figure": result.record.figure}
    version = (work / "version").read_text()
    if name == "evaluate":
        figure = steps.evaluate(config, version, RUN).record.figure
        steps.promote(config, version, RUN, "bench")
        return {"figure": figure}
    if name == "score":
        ingested = steps.ingest(config, "unlabelled", day, RUN)
        shard = steps.score_shard(config, day, RUN, 0, 1)
        return {"figure": f"{ingested.record.figure}; {shard.record.figure}", "parts_s": shard.record.detail["seconds"]}
    gathered = steps.score(config, day, RUN, "unlabelled", None, 1, [version]).record
    return {"figure": gathered.figure, "parts_s": gathered.detail["seconds"]}


def _measure(name: str, customers: int, work: Path) -> dict[str, Any]:
    """A step in a fresh process (its own peak memory); its last stdout line is JSON."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, __file__, "--step", name, "--customers", str(customers), "--work", str(work)],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(f"{name} at {customers:,} customers failed:\n{out.stderr[-3000:]}")
    said = json.loads(out.stdout.strip().splitlines()[-1])
    return {"seconds": round(time.perf_counter() - started, 1), **said}


def _exponent(t1: float, t2: float, n1: int, n2: int) -> float:
    return round(math.log(max(t2, 0.01) / max(t1, 0.01)) / math.log(n2 / n1), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="also 2M customers")
    parser.add_argument("--sizes", help="other sizes, comma-separated (e.g. 2000,4000 to try the harness)")
    parser.add_argument("--add", action="store_true", help="keep the sizes bench/out/scale.json measured before")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--customers", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:  # a child: one step
        said = _step(args.step, args.customers, args.work)
        print(json.dumps({**said, "peak_mib": round(peak_rss_mib())}))
        return
    sizes = (*SIZES, FULL) if args.full or os.environ.get("SCALE") == "full" else SIZES
    sizes = tuple(int(x) for x in args.sizes.split(",")) if args.sizes else sizes
    earlier = json.loads((OUT / "scale.json").read_text()) if args.add and (OUT / "scale.json").exists() else {}
    figures: dict[str, Any] = {k: v for k, v in earlier.items() if k[0].isdigit()}  # sizes measured before
    if args.add:
        sizes = tuple(sorted({*sizes, *(int(k.split(":")[0]) for k in figures)}))
    measure = [n for n in sizes if f"{n}:total_s" not in figures]
    figures |= {
        "sizes": list(sizes),
        "duckdb_memory_limit": os.environ.get("RISKOPS_DUCKDB_MEMORY_LIMIT", "3GB"),
    }
    for n in measure:
        work = OUT / f"scale-{n}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        total = time.perf_counter()
        for name in STEPS:
            got = _measure(name, n, work)
            figures[f"{n}:{name}"] = got
            gib = got["peak_mib"] / 1024
            print(f"{n:>10,} {name:<9} {got['seconds']:>8.1f}s {gib:6.2f} GiB  {got.get('figure', '')}", flush=True)
        figures[f"{n}:total_s"] = round(time.perf_counter() - total, 1)
        figures[f"{n}:disk_gib"] = round(sum(f.stat().st_size for f in work.rglob("*") if f.is_file()) / 2**30, 2)
    pairs = list(itertools.pairwise(sizes))
    heads = "".join(f"   k {a // 1000:,}k-{b // 1000:,}k" for a, b in pairs)
    print(f"\n{'step':<10}" + "".join(f"{n:>12,}" for n in sizes) + heads + "   peak GiB")
    for name in STEPS:
        t = [figures[f"{n}:{name}"]["seconds"] for n in sizes]
        ks = [_exponent(t[i], t[i + 1], a, b) for i, (a, b) in enumerate(pairs)]
        figures[f"k:{name}"] = ks
        peak = max(figures[f"{n}:{name}"]["peak_mib"] for n in sizes) / 1024
        print(
            f"{name:<10}" + "".join(f"{x:>11.1f}s" for x in t) + "".join(f"{k:>15.2f}" for k in ks) + f"{peak:>11.2f}"
        )
    print("total     " + "".join(f"{figures[f'{n}:total_s']:>11.1f}s" for n in sizes))
    report("scale", figures)


if __name__ == "__main__":
    main()
