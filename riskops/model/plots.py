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
from matplotlib.ticker import FuncFormatter
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from riskops.core.markup import compact

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
    currency: str = "",
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
    if np.quantile(p, 0.9) < 0.1:  # a low base rate: on linear axes the bins crowd into a corner
        low = max(min(prob_pred.min(), prob_true[prob_true > 0].min(initial=1.0)) / 2, 1e-4)
        ax.set(xscale="log", yscale="log", xlim=(low, 1), ylim=(low, 1), title="Calibration (holdout, log axes)")
    ax.legend()
    out["calibration.png"] = png(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(th.grid, th.cost, label="expected cost (out-of-fold)")
    ax.axvline(th.cost_optimal, color="tab:green", ls="--", label=f"cost-optimal {th.cost_optimal:.3f}")
    ax.axvline(th.f1_optimal, color="tab:orange", ls=":", label=f"F1-optimal {th.f1_optimal:.3f}")
    ax.set(xlabel="threshold", ylabel=f"expected cost{f' ({currency})' if currency else ''}", xlim=(0, 1),
           title="Cost vs threshold")  # fmt: skip
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: compact(v)))  # no "1e6" offset
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


def validation_plots(
    pack: dict[str, Any], y: np.ndarray, champion: np.ndarray, scorecard: np.ndarray
) -> dict[str, bytes]:
    """The validation pack's charts: out of time against in time, the champion's and the scorecard's
    precision-recall curves, PSI by vintage, and the list's overlap under each sensitivity."""
    sections = {s["name"]: s["figures"] for s in pack["sections"]}
    out: dict[str, bytes] = {}
    oot = sections["out_of_time"]
    if "in_time" in oot:  # judged (a book whose signups spread over time)
        fig, ax = plt.subplots(figsize=(5, 3.6))
        metrics = ["roc_auc", "pr_auc", "precision_listed"]
        for k, (key, label) in enumerate((("in_time", "in time"), ("out_of_time", "out of time"))):
            ax.bar(np.arange(3) + (k - 0.5) * 0.38, [oot[key][m] or 0.0 for m in metrics], 0.38, label=label)
        ax.set_xticks(np.arange(3), ["ROC-AUC", "PR-AUC", "list precision"])
        ax.set(ylim=(0, 1), title=f"Recipe fit as of {oot['cutoff']}")
        ax.legend()
        out["oot.png"] = png(fig)

    fig, ax = plt.subplots(figsize=(5, 3.6))
    for p, label in ((champion, "champion"), (scorecard, "scorecard")):
        prec, rec, _ = precision_recall_curve(y, p)
        ax.plot(rec, prec, label=f"{label} (AP {average_precision_score(y, p):.3f})")
    ax.axhline(y.mean(), ls="--", color="grey", label=f"base rate {y.mean():.1%}")
    ax.set(xlabel="recall", ylabel="precision", title="Champion against the scorecard (holdout)")
    ax.legend()
    out["benchmark.png"] = png(fig)

    table = sections["stability"]["psi"]
    if table:
        rows = list(table)
        cols = list(next(iter(table.values())))
        grid = np.array([[table[r].get(c, np.nan) for c in cols] for r in rows])
        fig, ax = plt.subplots(figsize=(1.2 + 0.6 * len(cols), 0.8 + 0.4 * len(rows)))
        im = ax.imshow(grid, cmap="Reds", vmin=0, vmax=max(0.25, float(np.nanmax(grid))), aspect="auto")
        ax.set_xticks(np.arange(len(cols)), [c[:18] for c in cols], rotation=45, ha="right")
        ax.set_yticks(np.arange(len(rows)), rows)
        fig.colorbar(im, ax=ax, label="PSI against development")
        ax.set_title("Stability by vintage")
        out["stability.png"] = png(fig)

    sens = sections["sensitivity"]
    labels = [f"missed cost x{r['missed_cost_factor']:g}" for r in sens["costs"]]
    labels += [f"capacity x{r['capacity_factor']:g}" for r in sens["capacity"]]
    labels += [f"{r['feature'][:20]} noise" for r in sens["noise"] if r["noise"] > 0]
    values = [r["overlap"] for r in sens["costs"] + sens["capacity"]] + [
        r["overlap"] for r in sens["noise"] if r["noise"] > 0
    ]
    fig, ax = plt.subplots(figsize=(5.5, 0.6 + 0.3 * len(labels)))
    ax.barh(np.arange(len(labels)), values)
    ax.set_yticks(np.arange(len(labels)), labels)
    ax.set(xlim=(0, 1), xlabel="overlap with the list (Jaccard)", title="Sensitivity of the list")
    ax.invert_yaxis()
    out["sensitivity.png"] = png(fig)
    return out


def pdf_pages(title: str, status: str, summary: list[tuple[str, str, str]], charts: dict[str, bytes]) -> bytes:
    """A printable PDF: a first page with each section's status and reading, then one chart per page."""
    import textwrap

    from matplotlib.backends.backend_pdf import PdfPages

    buf = io.BytesIO()
    with PdfPages(buf) as pdf:
        fig = plt.figure(figsize=(8.27, 11.69))  # A4
        fig.text(0.07, 0.95, title, fontsize=14, weight="bold")
        fig.text(0.07, 0.92, f"Overall: {status}", fontsize=11)
        y = 0.88
        for name, st, reading in summary:
            fig.text(0.07, y, f"{name}: {st}", fontsize=10, weight="bold")
            for line in textwrap.wrap(reading, 100)[:6]:
                y -= 0.018
                fig.text(0.09, y, line, fontsize=8)
            y -= 0.03
        pdf.savefig(fig)
        plt.close(fig)
        for name, data in charts.items():
            fig = plt.figure(figsize=(8.27, 11.69))
            ax = fig.add_axes((0.05, 0.3, 0.9, 0.6))
            ax.imshow(plt.imread(io.BytesIO(data)))
            ax.set_axis_off()
            fig.text(0.05, 0.93, name.removesuffix(".png"), fontsize=12)
            pdf.savefig(fig)
            plt.close(fig)
    return buf.getvalue()
