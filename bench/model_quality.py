"""Model quality of the champion in a runs folder, for the figures the issues ask for: CV against the baselines,
the holdout, and Brier and the calibration slope / intercept before (the model's raw scores, its calibration
undone) and after calibration, and the holdout's observed rate per segment.

    riskops run --data credit            # or synthetic, amlsim, a folder
    python bench/model_quality.py --home runs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import brier_score_loss

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=Path("runs"), help="The runs folder (RISKOPS_HOME).")
    args = parser.parse_args()
    from riskops.features.engineering import LABEL_COLUMN
    from riskops.io.artifacts import LocalStore
    from riskops.model.calibration import log_odds, logistic_fit
    from riskops.model.inputs import align, predict
    from riskops.model.registry import Registry

    registry = Registry(LocalStore(args.home))
    version = registry.champion()
    if not version:
        sys.exit(f"no champion in {args.home}: run `riskops run` first")
    model, card = registry.load(version)
    holdout = registry.holdout(version)
    y = holdout[LABEL_COLUMN].to_numpy()
    p = predict(model, align(holdout, card.features, card.categorical, list(card.dropped)), card.categorical)
    cal = card.calibration or {"slope": 1.0, "intercept": 0.0}
    raw = 1 / (1 + np.exp(-(log_odds(p) - cal["intercept"]) / cal["slope"]))
    m = card.metrics
    figures = {
        "model": version,
        "family": card.family,
        "imbalance": card.imbalance,
        "cv": {
            k: {"roc_auc": round(v["roc_auc_mean"], 3), "pr_auc": round(v["pr_auc_mean"], 3)}
            for k, v in card.cv.items()
        },
        "holdout": {
            "roc_auc": round(m["roc_auc"], 3),
            "pr_auc": round(m["pr_auc"], 3),
            "base_rate": round(m["base_rate"], 4),
        },
        "brier_before_after": [round(float(brier_score_loss(y, raw)), 4), round(float(brier_score_loss(y, p)), 4)],
        "slope_intercept_before": [round(v, 2) for v in logistic_fit(y, raw)],
        "slope_intercept_after": [round(v, 2) for v in logistic_fit(y, p)],
        "segments": {k: {"customers": s["customers"], "rate": round(s["rate"], 4)} for k, s in m["segments"].items()},
    }
    report("model_quality", figures)


if __name__ == "__main__":
    main()
