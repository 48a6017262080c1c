"""Does refitting the final model on every labelled customer (development set + holdout) help? The platform
evaluates its model on a holdout it never trains on; refitting afterwards on all of it cannot be measured on
that holdout, so this measures the same choice one level down: the labelled customers are split into L (80%)
and an outside test set T (20%); on L the platform's split gives a development set (80% of L); a model fit on
that development set and a model fit on all of L (same parameters, same early stopping) are both scored on T.
Repeated over seeds, per book, printing the gain of the refit in ROC-AUC and PR-AUC.

    python bench/bench_refit.py            # credit (1,000 and 20,000 customers) and synthetic (5,000)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report

BOOKS = [("credit", 1000), ("credit", 20000), ("synthetic", 5000)]


def _dataset(kind: str, customers: int, root: Path) -> object:
    from riskops.data.contract import as_of_cutoff
    from riskops.data.credit import MAPPING, generate_credit
    from riskops.data.ingest import ingest_cohort
    from riskops.data.sources import dataset_as_of, load_dataset
    from riskops.data.synth import generate
    from riskops.features.adapt import adapt
    from riskops.features.engineering import build_features, read_features
    from riskops.io.artifacts import LocalStore
    from riskops.io.warehouse.duckdb import DuckDBWarehouse
    from riskops.model.train import prepare

    folder = root / f"{kind}-{customers}"
    mapping = MAPPING if kind == "credit" else None
    (generate_credit if kind == "credit" else generate)(folder, customers=customers, seed=11)  # type: ignore[operator]
    as_of = date.fromisoformat(dataset_as_of(folder))
    with DuckDBWarehouse(root / f"{kind}-{customers}.duckdb") as wh:
        load_dataset(wh, folder, mapping, cohorts=("labelled",))
        ingest_cohort(wh, "labelled", as_of, LocalStore(root / "store"), "v", mapping)
        cutoff = as_of_cutoff(as_of)
        fs = build_features(wh, "labelled", cutoff, adapt(wh, "labelled", cutoff).config)
        frame = read_features(wh, "labelled")
    return prepare(frame, fs.names, fs.categorical)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    from riskops.model.config import TrainConfig
    from riskops.model.train import DEFAULT_PARAMS, fit_catboost

    cfg = TrainConfig()
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind, customers in BOOKS:
            ds = _dataset(kind, customers, Path(tmp))
            gains = []
            for seed in range(args.seeds):
                idx = np.arange(len(ds.y))  # type: ignore[attr-defined]
                L, T = train_test_split(idx, test_size=0.2, stratify=ds.y, random_state=seed)  # type: ignore[attr-defined]
                dev, _ = train_test_split(L, test_size=cfg.holdout_share, stratify=ds.y[L], random_state=seed)  # type: ignore[attr-defined]
                row = {}
                for name, rows in (("development", dev), ("all", L)):
                    model = fit_catboost(ds, rows, dict(DEFAULT_PARAMS), "none", cfg, seed)  # type: ignore[arg-type]
                    p = model.predict_proba(ds.X.iloc[T])[:, 1]  # type: ignore[attr-defined]
                    row[name] = (roc_auc_score(ds.y[T], p), average_precision_score(ds.y[T], p))  # type: ignore[attr-defined]
                gains.append([row["all"][0] - row["development"][0], row["all"][1] - row["development"][1]])
                print(
                    f"{kind} {customers:,} seed {seed}: ROC-AUC {row['development'][0]:.4f} -> {row['all'][0]:.4f}, "
                    f"PR-AUC {row['development'][1]:.4f} -> {row['all'][1]:.4f}"
                )
            g = np.array(gains)
            figures[f"{kind}-{customers}"] = {
                "roc_auc_gain_mean": round(float(g[:, 0].mean()), 4),
                "pr_auc_gain_mean": round(float(g[:, 1].mean()), 4),
                "seeds": args.seeds,
            }
            print(
                f"== {kind} {customers:,}: refit on all labelled customers gains ROC-AUC {g[:, 0].mean():+.4f} "
                f"(min {g[:, 0].min():+.4f}), PR-AUC {g[:, 1].mean():+.4f} (min {g[:, 1].min():+.4f})"
            )
    report("refit", figures)


if __name__ == "__main__":
    main()
