"""The validation pack's figures: what an independent validator examines before approving a model (supervisory
model-risk guidance: SR 11-7, SS1/23): the data, out-of-time performance, an interpretable benchmark, stability
across vintages, weak spots, sensitivity, fairness and limitations. Each section carries its figures, a status
against the policy's `validation:` limits and a one-line reading.

Pure: frames, scores and models in, sections out; riskops.runs.validate reads the warehouse, fits the
out-of-time model and writes the pack.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from riskops.model.config import CostMatrix, ValidationPolicy
from riskops.model.evaluate import choose_thresholds
from riskops.model.inputs import Model, predict
from riskops.model.pack import Section, Status
from riskops.model.reference import categorical_profile, numeric_profile, psi_against

ORDER: dict[Status, int] = {"n/a": 0, "pass": 1, "warn": 2, "fail": 3}


def worst(statuses: list[Status]) -> Status:
    return max(statuses, key=ORDER.__getitem__, default="n/a")


def roc_auc(y: np.ndarray, p: np.ndarray) -> float | None:
    return float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None


def performance(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, Any]:
    """ROC-AUC, PR-AUC, Brier and the list's precision at `threshold` (None where one class is absent)."""
    listed = p >= threshold
    both = 0 < y.sum() < len(y)
    return {
        "customers": len(y),
        "positives": int(y.sum()),
        "roc_auc": roc_auc(y, p),
        "pr_auc": float(average_precision_score(y, p)) if both else None,
        "brier": float(brier_score_loss(y, p)) if len(y) else None,
        "listed": int(listed.sum()),
        "precision_listed": float(y[listed].mean()) if listed.any() else None,
    }


# -- out of time --------------------------------------------------------------------------------------------------


def out_of_time(
    cutoff: str,
    in_time: dict[str, Any],
    later: dict[str, Any],
    policy: ValidationPolicy,
    word: str,
    history: tuple[int, int] = (365, 365),
) -> Section:
    """The recipe fit as of an earlier cut-off: its own in-time holdout against the customers who joined after.
    `history`: days of transactions the book holds before the cut-off, and the longest feature window: a cut-off
    before the history fills the windows gives features with less behind them than the model's (said, warned)."""
    days, window = history
    figures = {"cutoff": cutoff, "in_time": in_time, "out_of_time": later, "history_days": days, "window_days": window}
    a, b = in_time["roc_auc"], later["roc_auc"]
    if a is None or b is None or later["positives"] < 5:
        reading = f"too few {word} customers joined after {cutoff} ({later['positives']}) to judge out of time"
        return Section(name="out_of_time", title="Out of time", status="warn", reading=reading, figures=figures)
    drop = a - b
    figures["roc_auc_drop"] = drop
    status: Status = (
        "fail" if drop > policy.oot_auc_drop_fail else "warn" if drop > policy.oot_auc_drop_warn else "pass"
    )
    reading = (
        f"fit on the book as of {cutoff}: ROC-AUC {a:.3f} in time, {b:.3f} on the {later['customers']:,} customers "
        f"who joined after ({'a drop of ' + format(drop, '.3f') if drop > 0 else 'no drop'})"
    )
    if days <= 0:  # the book's transactions start after the cut-off: nothing but attributes to learn from
        status = worst([status, "warn"])
        reading += f"; but the book holds no transactions before {cutoff}: the refit learned from attributes alone"
    elif days < window:  # the earlier book's windows are not full: the refit sees less than the model did
        status = worst([status, "warn"])
        reading += (
            f"; but the transactions reach back only {days} days before {cutoff}, less than the {window}-day "
            "windows: the refit had less history than the model"
        )
    return Section(name="out_of_time", title="Out of time", status=status, reading=reading, figures=figures)


# -- benchmark ----------------------------------------------------------------------------------------------------


def fit_scorecard(X: pd.DataFrame, y: np.ndarray, categorical: list[str]) -> Any:
    """An interpretable scorecard: optimal binning, weight of evidence, logistic regression (optbinning), scaled
    to points (600 at 50:1 odds, 20 points to double them)."""
    from optbinning import BinningProcess, Scorecard
    from sklearn.linear_model import LogisticRegression

    binning = BinningProcess(
        variable_names=list(X.columns),
        categorical_variables=[c for c in categorical if c in X.columns],
        selection_criteria={"iv": {"min": 0.02}},
    )
    card = Scorecard(
        binning_process=binning,
        estimator=LogisticRegression(max_iter=1000),
        scaling_method="pdo_odds",
        scaling_method_params={"pdo": 20, "odds": 50, "scorecard_points": 600},
    )
    try:
        card.fit(X, y)
    except ValueError:  # no variable passes the information-value selection: nothing to score with
        return None
    return card


def points_sum(card: Any, X: pd.DataFrame) -> np.ndarray:
    """Each customer's score as the sum of the points of its bins in the points table: what a person adds up."""
    table = card.table(style="detailed")
    total = np.zeros(len(X))
    for name, rows in table.groupby("Variable", sort=False):
        binned = card.binning_process_.get_binned_variable(name)
        values = X[name].to_numpy()
        index = np.asarray(binned.transform(values, metric="indices"))
        labels = rows["Bin"].astype(str).tolist()
        index[pd.isna(values)] = labels.index("Missing")  # optbinning's indices put missing values in bin 0
        total += rows["Points"].to_numpy()[index]
    return total


def bootstrap_lead(y: np.ndarray, a: np.ndarray, b: np.ndarray, draws: int, seed: int = 0) -> tuple[float, float]:
    """95% interval of PR-AUC(a) - PR-AUC(b) over paired resamples of the same customers."""
    rng = np.random.default_rng(seed)
    leads = []
    for _ in range(draws):
        i = rng.integers(0, len(y), len(y))
        if 0 < y[i].sum() < len(i):
            leads.append(average_precision_score(y[i], a[i]) - average_precision_score(y[i], b[i]))
    lo, hi = np.quantile(leads, [0.025, 0.975])
    return float(lo), float(hi)


def benchmark(
    card: Any, X: pd.DataFrame, y: np.ndarray, champion: np.ndarray, policy: ValidationPolicy, seed: int
) -> Section:
    """The champion against the scorecard on the same holdout: PR-AUC lead with its paired bootstrap interval
    (`card` None: no scorecard could be fit, said)."""
    if card is None:
        reading = "not judged: no feature carries information value 0.02 or more on the development rows"
        return Section(name="benchmark", title="Benchmark scorecard", status="warn", reading=reading, figures={})
    p = card.predict_proba(X)[:, 1]
    table = card.table(style="detailed")
    ivs = table.groupby("Variable", sort=False)["IV"].sum().sort_values(ascending=False)
    mine, theirs = float(average_precision_score(y, champion)), float(average_precision_score(y, p))
    lo, hi = bootstrap_lead(y, champion, p, policy.bootstrap, seed)
    status: Status = "fail" if hi < 0 else "warn" if lo <= 0 else "pass"
    keep = ["Variable", "Bin", "Count", "Event rate", "WoE", "IV", "Points"]
    points = table[keep].rename(columns=str.lower).rename(columns={"event rate": "event_rate"})
    figures = {
        "champion_pr_auc": mine,
        "scorecard_pr_auc": theirs,
        "scorecard_roc_auc": roc_auc(y, p),
        "lead": mine - theirs,
        "lead_interval": [lo, hi],
        "information_value": {str(k): float(v) for k, v in ivs.items()},
        "points_table": points.astype({"bin": str}).to_dict("records"),
        "points_sum_error": float(np.max(np.abs(points_sum(card, X) - card.score(X)))) if len(X) else 0.0,
    }
    verdict = {"pass": "leads", "warn": "does not lead significantly", "fail": "trails"}[status]
    reading = (
        f"the champion {verdict}: PR-AUC {mine:.3f} against the scorecard's {theirs:.3f} on {len(y):,} holdout "
        f"customers, lead {mine - theirs:+.3f} (95% interval {lo:+.3f} to {hi:+.3f})"
    )
    return Section(name="benchmark", title="Benchmark scorecard", status=status, reading=reading, figures=figures)


# -- stability ----------------------------------------------------------------------------------------------------


def stability(
    reference: pd.DataFrame,
    vintages: dict[str, pd.DataFrame],
    features: list[str],
    categorical: list[str],
    policy: ValidationPolicy,
) -> Section:
    """PSI of the score and each key feature of every vintage (and the scored cohort) against the reference (the
    development customers): frames with the features and a `score` column."""
    cats = set(categorical)
    profiles = {
        f: categorical_profile(f, reference[f]) if f in cats else numeric_profile(f, reference[f])
        for f in ["score", *features]
        if f in reference.columns
    }
    table = {
        name: {f: psi_against(prof, frame[f]) for f, prof in profiles.items() if f in frame.columns}
        for name, frame in vintages.items()
        if len(frame)
    }
    largest = max(((v, name, f) for name, row in table.items() for f, v in row.items()), default=(0.0, "", ""))
    status: Status = "fail" if largest[0] > policy.psi_fail else "warn" if largest[0] > policy.psi_warn else "pass"
    sizes = {name: len(frame) for name, frame in vintages.items()}
    reading = (
        f"largest PSI {largest[0]:.3f} ({largest[2]}, {largest[1]}) across {len(table)} vintages against the "
        "development customers"
        if table
        else "no vintage to compare"
    )
    figures = {
        "psi": table,
        "customers": sizes,
        "largest": {"psi": largest[0], "vintage": largest[1], "variable": largest[2]},
    }
    if len(table) < 2:  # one vintage (every customer joined together) compared with itself shows nothing
        reading = f"not judged: {len(table)} vintage to compare (the customers joined together)"
        status = "n/a"
    return Section(name="stability", title="Stability", status=status, reading=reading, figures=figures)


# -- weak spots ---------------------------------------------------------------------------------------------------


def _bins(values: pd.Series, categorical: bool) -> pd.Series:
    """Quartiles of a numeric feature (missing on its own), or the categories of a categorical one."""
    if categorical:
        return values.astype(str)
    x = pd.to_numeric(values, errors="coerce")
    try:
        binned = pd.qcut(x, 4, duplicates="drop").astype(str)
    except ValueError:  # too few distinct values to cut
        binned = x.astype(str)
    return binned.where(x.notna(), "missing")


def weak_spots(
    X: pd.DataFrame,
    y: np.ndarray,
    p: np.ndarray,
    segments: np.ndarray,
    features: list[str],
    categorical: list[str],
    train: tuple[np.ndarray, np.ndarray, np.ndarray],
    policy: ValidationPolicy,
) -> Section:
    """ROC-AUC per quartile of each key feature on the holdout, the bins below the limit named; per segment the
    observed rate against the mean score (within a segment the ranking is compressed by construction, so it is
    not judged by ROC-AUC); and overfit: development (in-sample, `train`: labels, scores, segments) against
    holdout, as ROC-AUC and per segment as the gap between observed rate and mean score."""
    rows = []
    groups = [(f, _bins(X[f], f in categorical)) for f in features if f in X.columns]
    groups.append(("segment", pd.Series(segments, index=X.index)))
    for name, binned in groups:
        for label in sorted(binned.unique()):
            mask = (binned == label).to_numpy()
            n, pos = int(mask.sum()), int(y[mask].sum())
            judged = n >= policy.min_bin_customers and name != "segment"
            rows.append({
                "variable": name, "bin": label, "customers": n, "positives": pos,
                "observed": pos / n if n else None, "mean_score": float(p[mask].mean()) if n else None,
                "roc_auc": roc_auc(y[mask], p[mask]) if judged else None,
            })  # fmt: skip
    weak = [r for r in rows if r["roc_auc"] is not None and r["roc_auc"] < policy.weak_auc]
    y_dev, p_dev, seg_dev = train
    train_auc, holdout_auc = roc_auc(y_dev, p_dev), roc_auc(y, p)
    per_segment = [
        {
            "segment": s,
            "development": _calibration_gap(y_dev[seg_dev == s], p_dev[seg_dev == s]),
            "holdout": _calibration_gap(y[segments == s], p[segments == s]),
        }
        for s in sorted(set(segments) | set(seg_dev))
    ]
    gap = train_auc - holdout_auc if train_auc is not None and holdout_auc is not None else None
    over: Status = (
        "n/a"
        if gap is None
        else "fail"
        if gap > policy.overfit_gap_fail
        else "warn"
        if gap > policy.overfit_gap_warn
        else "pass"
    )
    status = worst([over, "warn" if weak else "pass"])
    named = ", ".join(f"{r['variable']} {r['bin']} ({r['roc_auc']:.2f})" for r in weak[:5])
    reading = (
        f"{len(weak)} of {sum(r['roc_auc'] is not None for r in rows)} judged bins rank below ROC-AUC "
        f"{policy.weak_auc:g}"
        + (f": {named}" if weak else "")
        + (f"; overfit gap {gap:+.3f}" if gap is not None else "")
    )
    figures = {
        "bins": rows,
        "weak": weak,
        "train_roc_auc": train_auc,
        "holdout_roc_auc": holdout_auc,
        "gap": gap,
        "segments": per_segment,
    }
    return Section(name="weak_spots", title="Weak spots", status=status, reading=reading, figures=figures)


def _calibration_gap(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    """Customers, observed rate, mean score and their difference (None when there is nobody)."""
    if not len(y):
        return {"customers": 0, "observed": None, "mean_score": None, "gap": None}
    observed, mean = float(y.mean()), float(p.mean())
    return {"customers": len(y), "observed": observed, "mean_score": mean, "gap": observed - mean}


# -- sensitivity --------------------------------------------------------------------------------------------------


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard overlap of two lists (boolean masks); two empty lists are the same list."""
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def perturbed(
    model: Model, X: pd.DataFrame, categorical: list[str], feature: str, noise: float, seed: int
) -> np.ndarray:
    """Scores with `feature` moved by Gaussian noise of `noise` times its own spread (0: the scores themselves)."""
    Xn = X.copy()
    x = pd.to_numeric(Xn[feature], errors="coerce").to_numpy(dtype=float)
    spread = float(np.nanstd(x)) if np.isfinite(x).any() else 0.0
    Xn[feature] = x + np.random.default_rng(seed).normal(0.0, noise * spread, len(x))
    return predict(model, Xn, categorical)


def sensitivity(
    model: Model,
    X: pd.DataFrame,
    y: np.ndarray,
    p: np.ndarray,
    categorical: list[str],
    threshold: float,
    costs: CostMatrix,
    features: list[str],
    policy: ValidationPolicy,
    seed: int = 0,
) -> Section:
    """How the holdout's list moves when the costs move by ±50%, when the capacity moves by ±50%, and when each
    numeric key feature is perturbed by noise of its own spread (rank correlation of scores, list overlap)."""
    base = p >= threshold
    cost_rows: list[dict[str, Any]] = []
    for factor in (0.5, 1.5):
        moved = CostMatrix(missed_cost=costs.missed_cost * factor, offboard_cost=costs.offboard_cost)
        t = choose_thresholds(y, p, moved).cost_optimal
        cost_rows.append({"missed_cost_factor": factor, "threshold": t, "listed": int((p >= t).sum()),
                          "overlap": _overlap(base, p >= t)})  # fmt: skip
    order = np.argsort(-p, kind="stable")
    capacity_rows: list[dict[str, Any]] = []
    for factor in (0.5, 1.5):
        k = round(float(base.sum()) * factor)
        top = np.zeros(len(p), dtype=bool)
        top[order[:k]] = True
        capacity_rows.append({"capacity_factor": factor, "listed": k, "overlap": _overlap(base, top)})
    noise_rows: list[dict[str, Any]] = []
    for f in [f for f in features if f in X.columns and f not in categorical]:
        for level in (0.0, policy.noise):
            q = perturbed(model, X, categorical, f, level, seed)
            rho = spearmanr(p, q).statistic if len(p) > 2 else 1.0
            noise_rows.append({"feature": f, "noise": level, "rank_correlation": float(rho),
                               "overlap": _overlap(base, q >= threshold)})  # fmt: skip
    fragile = [r for r in noise_rows if r["noise"] > 0 and r["overlap"] < policy.min_list_overlap]
    status: Status = "warn" if fragile else "pass"
    least = min((r for r in noise_rows if r["noise"] > 0), key=lambda r: r["overlap"], default=None)
    reading = f"costs ±50% keep {min(r['overlap'] for r in cost_rows):.0%}+ of the list; " + (
        f"noise of {policy.noise:.0%} of its spread on {least['feature']} keeps {least['overlap']:.0%}"
        if least
        else "no numeric key feature to perturb"
    )
    figures = {"costs": cost_rows, "capacity": capacity_rows, "noise": noise_rows, "fragile": fragile}
    return Section(name="sensitivity", title="Sensitivity", status=status, reading=reading, figures=figures)


# -- fairness and limitations -------------------------------------------------------------------------------------


def fairness_section(fairness: dict[str, Any], summary: dict[str, Any], found: list[str]) -> Section:
    """The fairness measured at evaluation (riskops.model.fairness) with its breaches."""
    if not fairness:
        reading = "no protected attribute was declared in the mapping: fairness was not measured"
        return Section(name="fairness", title="Fairness", status="n/a", reading=reading, figures={})
    status: Status = "fail" if found else "pass"
    reading = "; ".join(found) if found else f"no limit breached across {', '.join(fairness)}"
    return Section(name="fairness", title="Fairness", status=status, reading=reading, figures=summary)


def limitations_section(said: list[str]) -> Section:
    return Section(
        name="limitations", title="Limitations", status="n/a", reading=said[0] if said else "", figures={"said": said}
    )
