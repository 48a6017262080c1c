"""Does model selection on a sample lose anything against selection on every development customer? On the book
`make bench-scale` left (200k customers, ~128k development customers), training runs twice with the same seed,
so the same development set, holdout and folds: once as shipped (the imbalance comparison and the CV on a
stratified sample of TrainConfig.selection_rows, 60,000, the final model on all) and once with selection on all
of them. Both final models are scored on the same holdout: PR-AUC and ROC-AUC, the paired difference with a 95%
bootstrap interval over the holdout customers, and each training's seconds.

    python bench/bench_selection.py            # after bench/bench_scale.py (uses bench/out/scale-200000)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import OUT, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=OUT / "scale-200000")
    parser.add_argument("--boot", type=int, default=1000)
    args = parser.parse_args()
    from riskops.features.engineering import read_features
    from riskops.io.artifacts import LocalStore
    from riskops.io.warehouse.duckdb import DuckDBWarehouse
    from riskops.model.config import TrainConfig
    from riskops.model.inputs import predict
    from riskops.model.registry import Registry
    from riskops.model.train import prepare, train

    card = Registry(LocalStore(args.work / "store")).card((args.work / "version").read_text())
    with DuckDBWarehouse(args.work / "warehouse.duckdb") as wh:
        frame = read_features(wh, "labelled")
    ds = prepare(frame, [*card.features, *card.dropped], card.categorical)
    figures: dict[str, Any] = {"customers": len(ds.y)}
    scores: dict[str, np.ndarray] = {}
    y = np.array([])
    for name, rows in (("sample", TrainConfig().selection_rows), ("all", None)):
        started = time.perf_counter()
        result = train(ds, TrainConfig(seed=7, selection_rows=rows))
        seconds = time.perf_counter() - started
        y, scores[name] = result.holdout_y, predict(result.model, result.holdout_X, result.categorical)
        figures[name] = {
            "selection_rows": result.rows["selection"],
            "development": result.rows["development"],
            "imbalance": result.imbalance,
            "trees": int(getattr(result.model, "tree_count_", 0) or 0),
            "seconds": round(seconds, 1),
            "phases_s": result.seconds,
            "holdout_pr_auc": round(float(average_precision_score(y, scores[name])), 4),
            "holdout_roc_auc": round(float(roc_auc_score(y, scores[name])), 4),
        }
        print(name, figures[name], flush=True)
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(args.boot):
        i = rng.integers(0, len(y), len(y))
        if y[i].sum() == 0:
            continue
        diffs.append(
            average_precision_score(y[i], scores["sample"][i]) - average_precision_score(y[i], scores["all"][i])
        )
    low, high = np.percentile(diffs, [2.5, 97.5])
    figures["pr_auc_sample_minus_all"] = {
        "difference": round(figures["sample"]["holdout_pr_auc"] - figures["all"]["holdout_pr_auc"], 4),
        "ci95": [round(float(low), 4), round(float(high), 4)],
    }
    figures["selection_time_ratio"] = round(figures["sample"]["seconds"] / figures["all"]["seconds"], 2)
    report("selection", figures)


if __name__ == "__main__":
    main()
