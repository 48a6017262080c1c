"""Does a model that has seen every labelled customer help a small book? The platform evaluates its model on a
holdout it never trains on; a model fit on all of it cannot be measured on that holdout, so this measures the
same choice one level down: the labelled customers are split into L (80%) and an outside test set T (20%); on L
the platform's split gives a development set (80% of L). Scored on T: the model fit on that development set (what
ships today), a refit on all of L (same parameters, same early stopping), a 5-fold CV ensemble on L (five
models, each on four fifths of L, their probabilities averaged: together they have seen all of L) and the same
ensemble on the development set only (what the CV's fold models would give, leaving the holdout untouched).
Repeated over seeds, per book, printing each one's gain over the development-set model in ROC-AUC and PR-AUC.

    python bench/bench_refit.py            # credit (1,000, 3,000 and 20,000 customers) and synthetic (5,000)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report

BOOKS = [("credit", 1000), ("credit", 3000), ("synthetic", 5000), ("credit", 20000)]


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


def _scored(ds: object, rows: np.ndarray, test: np.ndarray, seed: int) -> np.ndarray:
    """CatBoost with the default parameters and early stopping, fit on `rows`, scoring the test rows."""
    from riskops.model.config import TrainConfig
    from riskops.model.train import DEFAULT_PARAMS, fit_catboost

    model = fit_catboost(ds, rows, dict(DEFAULT_PARAMS), "none", TrainConfig(), seed)  # type: ignore[arg-type]
    return np.asarray(model.predict_proba(ds.X.iloc[test])[:, 1])  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    from riskops.model.config import TrainConfig

    cfg = TrainConfig()
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind, customers in BOOKS:
            ds = _dataset(kind, customers, Path(tmp))
            gains: dict[str, list[list[float]]] = {"refit": [], "ensemble": [], "dev_ensemble": []}
            for seed in range(args.seeds):
                y = ds.y  # type: ignore[attr-defined]
                L, T = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=seed)
                dev, _ = train_test_split(L, test_size=cfg.holdout_share, stratify=y[L], random_state=seed)
                folds = StratifiedKFold(5, shuffle=True, random_state=seed).split(L, y[L])
                dev_folds = StratifiedKFold(5, shuffle=True, random_state=seed).split(dev, y[dev])
                p = {
                    "development": _scored(ds, dev, T, seed),
                    "refit": _scored(ds, L, T, seed),
                    "ensemble": np.mean([_scored(ds, L[part], T, seed + k) for k, (part, _) in enumerate(folds)], 0),
                    # The CV's own fold models on the development set, averaged: the holdout stays untouched.
                    "dev_ensemble": np.mean(
                        [_scored(ds, dev[part], T, seed + k) for k, (part, _) in enumerate(dev_folds)], 0
                    ),
                }
                got = {k: (roc_auc_score(y[T], v), average_precision_score(y[T], v)) for k, v in p.items()}
                for k in gains:
                    gains[k].append([got[k][0] - got["development"][0], got[k][1] - got["development"][1]])
                print(
                    f"{kind} {customers:,} seed {seed}: PR-AUC "
                    + ", ".join(f"{k} {v[1]:.4f}" for k, v in got.items())
                    + "; ROC-AUC "
                    + ", ".join(f"{k} {v[0]:.4f}" for k, v in got.items()),
                    flush=True,
                )
            for k, rows in gains.items():
                g = np.array(rows)
                figures[f"{kind}-{customers}-{k}"] = {
                    "roc_auc_gain_mean": round(float(g[:, 0].mean()), 4),
                    "roc_auc_gain_min": round(float(g[:, 0].min()), 4),
                    "pr_auc_gain_mean": round(float(g[:, 1].mean()), 4),
                    "pr_auc_gain_min": round(float(g[:, 1].min()), 4),
                    "seeds": args.seeds,
                }
                print(
                    f"== {kind} {customers:,}: the {k} gains ROC-AUC {g[:, 0].mean():+.4f} (min {g[:, 0].min():+.4f}), "
                    f"PR-AUC {g[:, 1].mean():+.4f} (min {g[:, 1].min():+.4f}) over the development-set model",
                    flush=True,
                )
    report("refit", figures)


if __name__ == "__main__":
    main()
