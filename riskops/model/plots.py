"""The evaluation's plots (ROC, precision-recall, calibration, cost, SHAP summary) and the one PNG writer the
reports use. Only reports import this module: serving and scoring never load matplotlib."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

if TYPE_CHECKING:
    from riskops.model.evaluate import Thresholds

__all__ = ["evaluation_plots", "plt", "png"]


def png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def evaluation_plots(
    y: np.ndarray,
    p: np.ndarray,
    th: Thresholds,
    sv: np.ndarray,
    Xs: pd.DataFrame,
    categorical: list[str],
) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    fpr, tpr, _ = roc_curve(y, p)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(fpr, tpr, label=f"CatBoost (AUC {roc_auc_score(y, p):.3f})")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (holdout)")
    ax.legend(loc="lower right")
    out["roc.png"] = png(fig)

    prec, rec, _ = precision_recall_curve(y, p)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(rec, prec, label=f"CatBoost (AP {average_precision_score(y, p):.3f})")
    ax.axhline(y.mean(), ls="--", color="grey", label=f"base rate {y.mean():.1%}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (holdout)")
    ax.legend()
    out["pr.png"] = png(fig)

    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="quantile")
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(prob_pred, prob_true, "o-", label="model")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfectly calibrated")
    ax.set(xlabel="predicted probability", ylabel="observed SUSPENDED share", title="Calibration (holdout)")
    ax.legend()
    out["calibration.png"] = png(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(th.grid, th.cost, label="expected cost (out-of-fold)")
    ax.axvline(th.cost_optimal, color="tab:green", ls="--", label=f"cost-optimal {th.cost_optimal:.3f}")
    ax.axvline(th.f1_optimal, color="tab:orange", ls=":", label=f"F1-optimal {th.f1_optimal:.3f}")
    ax.set(xlabel="threshold", ylabel="cost", xlim=(0, 1), title="Cost vs threshold")
    ax.legend()
    out["cost.png"] = png(fig)

    import shap

    Xc = Xs.copy()
    for c in categorical:  # shap colours by value: encode categories as codes
        Xc[c] = Xc[c].astype("category").cat.codes
    shap.summary_plot(sv, Xc, max_display=20, show=False, plot_size=(7, 6))
    out["shap_summary.png"] = png(plt.gcf())
    return out


def fairness_plot(fairness: dict[str, Any]) -> bytes:
    """Per protected attribute, each group's listed share, true- and false-positive rate side by side."""
    fig, axes = plt.subplots(1, len(fairness), figsize=(4.5 * len(fairness), 3.6), squeeze=False)
    for ax, (name, a) in zip(axes[0], fairness.items(), strict=True):
        groups = list(a["groups"])
        x = np.arange(len(groups))
        for k, (metric, label) in enumerate(
            (("listed", "listed"), ("tpr", "true-positive rate"), ("fpr", "false-positive rate"))
        ):
            values = [a["groups"][g][metric] or 0.0 for g in groups]
            ax.bar(x + (k - 1) * 0.27, values, 0.27, label=label)
        ax.set_xticks(x, [str(g)[:14] for g in groups], rotation=30 if len(groups) > 4 else 0)
        ratio = "-" if a["parity_ratio"] is None else f"{a['parity_ratio']:.2f}"
        ax.set(title=f"{name}: listed-share ratio {ratio}", ylim=(0, 1))
    axes[0][0].legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3)
    return png(fig)
