"""Evaluation: holdout metrics, cost-optimal vs F1-optimal thresholds, calibration, SHAP importance, plots,
and a Markdown + HTML report a risk analyst can read without code.

Thresholds are chosen on the out-of-fold predictions of the development set (cross-validated) and then
applied, unchanged, to the holdout: the holdout never picks its own threshold.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, get_args

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from riskops.core.markup import md_text
from riskops.data.contract import outcome_word
from riskops.io.artifacts import ArtifactStore
from riskops.model.calibration import logistic_fit
from riskops.model.config import BEST_REASON, CostMatrix, Family
from riskops.model.fairness import FairnessPolicy, fairness_markdown
from riskops.model.inputs import Model, predict, shap_values
from riskops.model.plots import evaluation_plots
from riskops.model.reporting import markdown_html
from riskops.model.segments import SEGMENTS, Cutoffs, segment_codes


@dataclass
class Thresholds:
    cost_optimal: float
    f1_optimal: float
    grid: np.ndarray
    cost: np.ndarray
    f1: np.ndarray


def expected_cost(y: np.ndarray, p: np.ndarray, t: float, costs: CostMatrix) -> float:
    pred = p >= t
    fn = int(((y == 1) & ~pred).sum())
    fp = int(((y == 0) & pred).sum())
    return fn * costs.missed_cost + fp * costs.offboard_cost


def choose_thresholds(y: np.ndarray, p: np.ndarray, costs: CostMatrix) -> Thresholds:
    """Scan every distinct score as a threshold (vectorized): the cheapest and the best-F1 one."""
    order = np.argsort(-p)
    ps, ys = p[order], y[order]
    # Flagging the top k scores: true positives and false positives for every k.
    tp = np.cumsum(ys)
    fp = np.cumsum(1 - ys)
    last = np.r_[ps[1:] != ps[:-1], True]  # cut only between distinct scores
    tp, fp, grid = tp[last], fp[last], ps[last]
    pos = ys.sum()
    fn = pos - tp
    cost = fn * costs.missed_cost + fp * costs.offboard_cost
    f1 = np.where(tp > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
    # Flagging nobody is an option too.
    grid = np.r_[1.0 + 1e-9, grid]
    cost = np.r_[pos * costs.missed_cost, cost]
    f1 = np.r_[0.0, f1]
    return Thresholds(float(grid[np.argmin(cost)]), float(grid[np.argmax(f1)]), grid, cost, f1)


def at_threshold(y: np.ndarray, p: np.ndarray, t: float, costs: CostMatrix) -> dict[str, Any]:
    pred = (p >= t).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
    return {
        "threshold": float(t),
        "accuracy": float(accuracy_score(y, pred)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "confusion": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
        "flagged": int(pred.sum()),
        "cost": float(fn * costs.missed_cost + fp * costs.offboard_cost),
    }


@dataclass
class Evaluation:
    metrics: dict[str, Any]
    thresholds: dict[str, float]
    importance: list[dict[str, Any]]
    plots: dict[str, bytes] = field(default_factory=dict)

    @property
    def threshold(self) -> float:
        return self.thresholds["cost_optimal"]


def segment_rates(y: np.ndarray, p: np.ndarray, high: float, medium_factor: float) -> dict[str, dict[str, float]]:
    """Customers, observed suspension rate and its 95% Wilson interval per segment (Low, Medium, High) at these
    cut-offs."""
    from scipy.stats import binomtest

    segment = segment_codes(p, Cutoffs.of(high, medium_factor))
    out: dict[str, dict[str, float]] = {}
    for i, name in enumerate(SEGMENTS):
        n, k = int((segment == i).sum()), int(y[segment == i].sum())
        low, up = binomtest(k, n).proportion_ci(method="wilson") if n else (float("nan"), float("nan"))
        out[name] = {
            "customers": n,
            "rate": k / n if n else float("nan"),
            "rate_low": float(low),
            "rate_high": float(up),
        }
    return out


def indistinct(segments: dict[str, dict[str, float]]) -> list[str]:
    """Neighbouring segments (each measurable) whose 95% intervals overlap: their order is not established."""
    shown = [(k, s) for k, s in segments.items() if s["customers"] >= MIN_SEGMENT_ROWS and "rate_low" in s]
    return [f"{a} and {b}" for (a, s), (b, t) in pairwise(shown) if s["rate_high"] >= t["rate_low"]]


MIN_SEGMENT_ROWS = 20  # a holdout segment smaller than this is too small for its rate to say anything


def monotone(segments: dict[str, dict[str, float]]) -> bool:
    """Whether the observed rate rises strictly from Low to Medium to High (segments with fewer than
    MIN_SEGMENT_ROWS holdout customers left out: one customer more or less would flip them)."""
    rates = [s["rate"] for s in segments.values() if s["customers"] >= MIN_SEGMENT_ROWS]
    return all(a < b for a, b in pairwise(rates))


MEDIUM_FACTORS = (0.5, 0.4, 0.6, 0.3, 0.7, 0.25, 0.2, 0.8, 0.15, 0.1, 0.9)  # the default first, then outwards


def choose_medium_factor(y: np.ndarray, p: np.ndarray, high: float) -> tuple[float, str]:
    """The Medium cut-off, as a factor of High, nearest the default 0.5 for which each segment holds at least
    MIN_SEGMENT_ROWS holdout customers and the observed rates rise Low < Medium < High, preferring one whose
    95% intervals are apart; the default when no factor gives three ordered, measurable segments."""
    tried = [(f, segment_rates(y, p, high, f)) for f in MEDIUM_FACTORS]
    for apart in (True, False):
        for f, segs in tried:
            measurable = all(v["customers"] >= MIN_SEGMENT_ROWS for v in segs.values())
            if measurable and monotone(segs) and (not apart or not indistinct(segs)):
                said = "with 95% intervals apart" if apart else "though some 95% intervals overlap"
                return f, (
                    f"Medium from {f:g} x High: each segment holds {MIN_SEGMENT_ROWS}+ holdout customers and the "
                    f"observed rate rises Low < Medium < High, {said}"
                )
    return MEDIUM_FACTORS[0], (
        f"Medium from the default {MEDIUM_FACTORS[0]:g} x High: no factor from {min(MEDIUM_FACTORS):g} to "
        f"{max(MEDIUM_FACTORS):g} gives three segments of {MIN_SEGMENT_ROWS}+ holdout customers whose rates rise"
    )


def evaluate(
    model: Model,
    X: pd.DataFrame,
    y: np.ndarray,
    categorical: list[str],
    oof_y: np.ndarray,
    oof_p: np.ndarray,
    costs: CostMatrix,
    medium_factor: float | None,
    shap_rows: int = 2000,
    seed: int = 0,
    currency: str = "",
) -> Evaluation:
    p = predict(model, X, categorical)
    th = choose_thresholds(oof_y, oof_p, costs)
    slope, intercept = logistic_fit(y, p)
    cost_t, f1_t = at_threshold(y, p, th.cost_optimal, costs), at_threshold(y, p, th.f1_optimal, costs)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10, strategy="quantile")
    why = "set by the policy"
    if medium_factor is None:
        medium_factor, why = choose_medium_factor(y, p, th.cost_optimal)
    m = {
        "holdout_rows": len(y),
        "holdout_suspended": int(y.sum()),
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "base_rate": float(y.mean()),
        "at_cost_optimal": cost_t,
        "at_f1_optimal": f1_t,
        "cost_saving_vs_f1": float(f1_t["cost"] - cost_t["cost"]),
        "cost_if_nobody_offboarded": float(y.sum() * costs.missed_cost),
        "calibration": {"predicted": prob_pred.tolist(), "observed": prob_true.tolist()},
        "calibration_slope": slope,
        "calibration_intercept": intercept,
        "segments": segment_rates(y, p, th.cost_optimal, medium_factor),
        "medium_factor": medium_factor,
        "medium_factor_reason": why,
        "costs": costs.model_dump(),
    }
    rows = np.random.default_rng(seed).permutation(len(y))[:shap_rows]
    sv = shap_values(model, X.iloc[rows], categorical)[:, :-1]
    mean_abs = np.abs(sv).mean(axis=0)
    importance = [
        {"feature": f, "mean_abs_shap": float(v)}
        for f, v in sorted(zip(X.columns, mean_abs, strict=True), key=lambda x: -x[1])
    ]
    ev = Evaluation(m, {"cost_optimal": th.cost_optimal, "f1_optimal": th.f1_optimal}, importance)
    ev.plots = evaluation_plots(y, p, th, sv, X.iloc[rows], categorical, currency)
    return ev


# -- plots --------------------------------------------------------------------------------------------------------


# -- report -------------------------------------------------------------------------------------------------------


def _params(params: dict[str, Any]) -> str:
    """Model parameters in words: `depth 6, learning_rate 0.05`, not a Python dict."""
    return ", ".join(f"{md_text(k)} {md_text(v)}" for k, v in params.items()) or "none"


def _pct(x: float) -> str:
    return f"{x:.1%}"


def cv_table(cv: dict[str, dict[str, float]], shipped: str = "catboost", reason: str = "") -> list[str]:
    """The cross-validated comparison as Markdown table lines, the family that ships marked."""
    lines = ["| model | ROC-AUC | PR-AUC |", "|---|---|---|"]
    for name, s in cv.items():
        lines.append(
            f"| {name}{' (shipped)' if name == shipped else ''} | {s['roc_auc_mean']:.3f} ± {s['roc_auc_std']:.3f} "
            f"| {s['pr_auc_mean']:.3f} ± {s['pr_auc_std']:.3f} |"
        )
    return lines + [f"\n**{line}**" for line in beaten_by(cv, shipped, reason)]


SHIPPABLE = get_args(Family)  # the random forest's reasons would need TreeSHAP in the service


def beaten_by(cv: dict[str, dict[str, float]], shipped: str = "catboost", reason: str = "") -> list[str]:
    """A plain sentence for each model whose mean CV PR-AUC is above the shipped family's, and how to ship it.
    `reason` is why the shipped family was chosen (the card's `family_reason`)."""
    ours = cv[shipped]["pr_auc_mean"]

    def how(name: str) -> str:
        if name not in SHIPPABLE:
            return " (it cannot be shipped: only catboost and logistic_regression can)"
        if reason.startswith(BEST_REASON):  # `best` weighed it already: the lead is within the folds' noise
            measured = reason.split(": ", 1)[-1]
            return (
                f" (`family: best` keeps {shipped} on a lead within the folds' noise: {measured}; "
                f"`family: {name}` ships it regardless)"
            )
        return f" (set `family: {name}` or `family: best` in the policy to ship it)"

    return [
        f"{name} beats {shipped} on cross-validated PR-AUC ({s['pr_auc_mean']:.3f} vs {ours:.3f}); {shipped} is "
        "still the model shipped" + how(name)
        for name, s in cv.items()
        if name != shipped and s["pr_auc_mean"] > ours
    ]


def _selection_said(rows: dict[str, int]) -> list[str]:
    """A large book's model selection ran on a sample: how large, of how many (TrainConfig.selection_rows)."""
    sel, dev = rows.get("selection", 0), rows.get("development", 0)
    if not sel or sel >= dev:
        return []
    return [
        f"Model selection (the imbalance comparison, tuning and this CV) ran on a stratified sample of {sel:,} of "
        f"the {dev:,} development customers; the final model was fit on all {dev:,}.",
        "",
    ]


def report_markdown(meta: dict[str, Any], ev: Evaluation) -> str:
    """A report for a risk analyst: what the model achieves, what its threshold costs, what drives it."""
    m, cv, bad = ev.metrics, meta["cv"], outcome_word(meta.get("feature_config", {}).get("label_words", {}))
    lines = [
        f"# Model {meta['version']}",
        "",
        f"Trained {meta['created']} on {meta['rows']['customers']:,} labelled customers "
        f"({meta['rows']['suspended']:,} {bad}) as of {meta['as_of']}; code {meta['code_version']}.",
        "",
        "## Cross-validated comparison (development set, same folds)",
        "",
        *_selection_said(meta["rows"]),
        *cv_table(cv, meta.get("family", "catboost"), meta.get("family_reason", "")),
    ]
    lines += [
        "",
        f"Class imbalance: **{meta['imbalance']}** chosen by PR-AUC over the same folds:",
        "",
        "| handling | ROC-AUC | PR-AUC |",
        "|---|---|---|",
    ]
    for name, s in meta["imbalance_comparison"].items():
        lines.append(f"| {name} | {s['roc_auc_mean']:.3f} | {s['pr_auc_mean']:.3f} ± {s['pr_auc_std']:.3f} |")
    tuning = meta["tuning"]
    lines += [
        "",
        (
            f"Tuning: {tuning['trials']} Optuna trials (budget {tuning['budget_s']:.0f}s); "
            f"parameters {_params(meta['params'])}."
            if tuning["trials"]
            else f"Tuning: off (`--trials N` to tune); default parameters {_params(meta['params'])}."
        ),
        "",
        "## Holdout (never seen by tuning or threshold choice)",
        "",
        f"- ROC-AUC **{m['roc_auc']:.3f}**, PR-AUC **{m['pr_auc']:.3f}** (base rate {_pct(m['base_rate'])}), "
        f"Brier {m['brier']:.4f}",
        f"- {m['holdout_rows']:,} customers, {m['holdout_suspended']:,} {bad}",
        "",
        *_calibration_section(meta, m),
        *_threshold_section(m),
        "## What drives the score (SHAP, holdout sample)",
        "",
        "| feature | mean abs SHAP (log-odds) |",
        "|---|---|",
    ]
    lines += [f"| {md_text(i['feature'])} | {i['mean_abs_shap']:.3f} |" for i in ev.importance[:15]]
    lines += ["", "![SHAP summary](shap_summary.png)", ""]
    allowed = meta.get("feature_config", {}).get("allowed_protected", {})
    lines += fairness_markdown(
        m.get("fairness", {}), FairnessPolicy.model_validate(m.get("fairness_limits", {})), allowed
    )
    if meta["dropped"]:
        lines += ["## Features dropped", ""]
        lines += [f"- {md_text(k)}: {md_text(v)}" for k, v in meta["dropped"].items()]
        lines.append("")
    lines += [
        "## Limits",
        "",
        "- Scores are probabilities calibrated on out-of-fold predictions; the holdout's calibration slope and "
        "intercept above say how well that held.",
        "- SHAP values explain this model's score, not causes; correlated features share credit.",
        "- See docs/methodology.md for the scheme and known limitations.",
    ]
    return "\n".join(lines) + "\n"


def _calibration_section(meta: dict[str, Any], m: dict[str, Any]) -> list[str]:
    """How far a score is a probability, and whether the segments order the risk."""
    cal = meta.get("calibration") or {}
    fitted = (
        f"Scores are calibrated: {cal['method']}, slope {cal['slope']:.3f}, intercept {cal['intercept']:.3f}; "
        f"out-of-fold Brier {cal['oof_brier_before']:.4f} before, {cal['oof_brier_after']:.4f} after."
        if cal
        else "Scores are not calibrated (a version trained before calibration)."
    )
    segs = m["segments"]
    lines = [
        "## Calibration and segments",
        "",
        fitted,
        f"On the holdout: calibration slope **{m['calibration_slope']:.2f}**, intercept "
        f"**{m['calibration_intercept']:.2f}** (1 and 0 when a score is the probability of suspension; the "
        "reliability curve is the calibration plot below).",
        "",
        *([f"{md_text(m['medium_factor_reason'])}.", ""] if m.get("medium_factor_reason") else []),
        "| segment (default policy) | holdout customers | observed rate | 95% interval |",
        "|---|---|---|---|",
        *(
            f"| {k} | {v['customers']:,} | {_pct(v['rate']) if v['customers'] else '-'} | {_interval(v)} |"
            for k, v in segs.items()
        ),
        "",
    ]
    if not monotone(segs):
        lines += [f"**WARNING: {not_monotone(segs)}**", ""]
    elif overlap := indistinct(segs):
        lines += [
            f"The rates rise from Low to High, but the holdout cannot tell {' nor '.join(overlap)} apart at "
            "95%: their order may be chance at this size.",
            "",
        ]
    small = [f"{k} ({v['customers']})" for k, v in segs.items() if v["customers"] < MIN_SEGMENT_ROWS]
    if small:
        lines += [f"Too few holdout customers to measure a rate: {', '.join(small)} (under {MIN_SEGMENT_ROWS}).", ""]
    return lines


def _interval(v: dict[str, float]) -> str:
    return f"{_pct(v['rate_low'])} to {_pct(v['rate_high'])}" if v["customers"] and "rate_low" in v else "-"


def not_monotone(segs: dict[str, dict[str, float]]) -> str:
    """The warning when the observed rate does not rise Low < Medium < High."""
    rates = ", ".join(f"{k} {v['rate']:.1%}" for k, v in segs.items() if v["customers"] >= MIN_SEGMENT_ROWS)
    return (
        f"on the holdout the observed suspension rate does not rise from Low to Medium to High ({rates}): the "
        "segments do not order the risk; review the policy's cut-offs (medium_factor, high_cutoff)"
    )


def _threshold_section(m: dict[str, Any]) -> list[str]:
    """The cost-optimal threshold beside the F1-optimal one, on the holdout."""
    c, f, costs = m["at_cost_optimal"], m["at_f1_optimal"], m["costs"]
    lines = [
        "## Decision threshold",
        "",
        f"A missed risky customer costs {costs['missed_cost']:,.0f}; wrongly off-boarding a good one costs "
        f"{costs['offboard_cost']:,.0f}. Thresholds are chosen on out-of-fold predictions and applied to the "
        "holdout unchanged.",
        "",
        "| threshold | value | flagged | precision | recall | F1 | missed | wrongly flagged | cost |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in (("cost-optimal (used)", c), ("F1-optimal", f)):
        cm = r["confusion"]
        lines.append(
            f"| {name} | {r['threshold']:.3f} | {r['flagged']:,} | {_pct(r['precision'])} | {_pct(r['recall'])} | "
            f"{r['f1']:.3f} | {cm['fn']:,} | {cm['fp']:,} | {r['cost']:,.0f} |"
        )
    lines += [
        "",
        f"On this holdout the cost-optimal threshold costs **{abs(m['cost_saving_vs_f1']):,.0f} "
        f"{'less' if m['cost_saving_vs_f1'] >= 0 else 'more'}** than the F1-optimal one (both were chosen on "
        f"out-of-fold predictions); off-boarding nobody would cost {m['cost_if_nobody_offboarded']:,.0f}.",
        "",
        f"Confusion at the cost-optimal threshold: {c['confusion']['tp']:,} risky caught, {c['confusion']['fn']:,} "
        f"missed, {c['confusion']['fp']:,} good customers flagged, {c['confusion']['tn']:,} left alone "
        f"(accuracy {_pct(c['accuracy'])}).",
        "",
        "![cost vs threshold](cost.png) ![ROC](roc.png) ![PR](pr.png) ![calibration](calibration.png)",
        "",
    ]
    return lines


def write_report(store: ArtifactStore, prefix: str, meta: dict[str, Any], ev: Evaluation) -> str:
    """Write report.md, report.html and the PNGs under `prefix`; returns the HTML report's URI."""
    md = report_markdown(meta, ev)
    for name, data in ev.plots.items():
        store.write_bytes(f"{prefix}/{name}", data)
    store.write_text(f"{prefix}/report.md", md)
    css = (
        "body{font-family:sans-serif;max-width:1000px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px}img{max-width:48%}"
    )
    return store.write_text(f"{prefix}/report.html", markdown_html(md, str(meta["version"]), css))
