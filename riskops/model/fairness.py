"""Fairness of a model's decisions across the groups of each protected attribute (sex, age, marital status...).

Protected attributes are declared in the mapping (`protected:`): they are never features, reasons, rules or
neighbours; the training step keeps their values for the holdout customers only (`groups.parquet` beside the
model), and this module measures, per group, what the decision does to it with fairlearn's `MetricFrame`: size,
base rate, listed share (selection rate at the High cut-off), precision, true- and false-positive rates, mean
score against the observed rate (calibration) and ROC-AUC. Between groups: the demographic parity ratio (lowest
listed share / highest; the four-fifths rule asks >= 0.8) and the equalised-odds difference (the larger of the
TPR and FPR gaps). Groups smaller than `min_group` are shown but not judged: their rates are noise.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from riskops.core.markup import md_text

GROUPS = "groups.parquet"  # beside a model version: the holdout customers' protected attributes, in holdout order
AGE_BANDS = (0, 25, 35, 45, 55, 65, 200)
MISSING = "unknown"


class FairnessPolicy(BaseModel):
    """The limits a model's decisions must meet across protected groups (`fairness:` in the policy)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    min_parity_ratio: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="lowest / highest listed share of any two groups of an attribute (the four-fifths rule: 0.8)",
    )
    max_odds_difference: float = Field(
        default=0.2,
        ge=0,
        le=1,
        description="the largest gap in true- or false-positive rate between two groups of an attribute",
    )
    min_group: int = Field(default=30, ge=1, description="groups with fewer holdout customers are shown, not judged")
    on_breach: Literal["refuse", "warn"] = Field(
        default="refuse", description="what the gate does with a candidate that breaches a limit the champion meets"
    )
    proxy_auc: float = Field(
        default=0.7,
        gt=0.5,
        le=1,
        description="a feature telling a group of a protected "
        "attribute from the rest this well (ROC-AUC) is named as a proxy",
    )


def proxies(
    X: pd.DataFrame, groups: pd.DataFrame, limits: FairnessPolicy, top: int = 5
) -> dict[str, list[dict[str, Any]]]:
    """Per protected attribute, the numeric features that predict one of its groups best (one group against the
    rest, ROC-AUC folded above 0.5), those at or above `proxy_auc`: a model without the attribute can still
    decide on it through them, and a reviewer judges whether each is legitimate."""
    from sklearn.metrics import roc_auc_score

    numeric = X.select_dtypes("number")
    out: dict[str, list[dict[str, Any]]] = {}
    for name in groups.columns:
        g = banded(name, groups[name].reset_index(drop=True)).to_numpy()
        sizes = pd.Series(g).value_counts()
        judged = [k for k, n in sizes.items() if k != MISSING and limits.min_group <= n <= len(g) - limits.min_group]
        found = []
        for feature in numeric.columns:
            v = numeric[feature].to_numpy(dtype=float)
            v = np.where(np.isnan(v), np.nanmedian(v) if np.isfinite(v).any() else 0.0, v)
            if np.ptp(v) == 0:
                continue
            aucs = [(abs(float(roc_auc_score(g == k, v)) - 0.5) + 0.5, str(k)) for k in judged]
            if aucs:
                auc, group = max(aucs)
                if auc >= limits.proxy_auc:
                    found.append({"feature": feature, "group": group, "auc": round(auc, 3)})
        out[name] = sorted(found, key=lambda f: -f["auc"])[:top]
    return out


def banded(name: str, values: pd.Series) -> pd.Series:
    """An attribute's groups: categories as they are; ages in bands; other numbers in quartiles."""
    if not pd.api.types.is_numeric_dtype(values) or values.nunique(dropna=True) <= 10:
        return values.astype("string").fillna(MISSING).astype(str)
    if "age" in name.lower():
        names = [f"{a}-{b - 1}" if b < AGE_BANDS[-1] else f"{a}+" for a, b in itertools.pairwise(AGE_BANDS)]
        bands = pd.cut(values, AGE_BANDS, right=False, labels=names)
    else:
        bands = pd.qcut(values, 4, duplicates="drop")
    return bands.astype("string").fillna(MISSING).astype(str)


def _rate(num: np.ndarray, den: np.ndarray) -> float:
    return float(num.sum() / den.sum()) if den.sum() else float("nan")


def _metrics(threshold: float) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    def listed(y: np.ndarray, p: np.ndarray) -> float:
        return float((p >= threshold).mean()) if len(p) else float("nan")

    def precision(y: np.ndarray, p: np.ndarray) -> float:
        return _rate((p >= threshold) & (y == 1), p >= threshold)

    def tpr(y: np.ndarray, p: np.ndarray) -> float:
        return _rate((p >= threshold) & (y == 1), y == 1)

    def fpr(y: np.ndarray, p: np.ndarray) -> float:
        return _rate((p >= threshold) & (y == 0), y == 0)

    def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
        return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")

    return {
        "customers": lambda y, p: float(len(y)),
        "base_rate": lambda y, p: float(np.mean(y)) if len(y) else float("nan"),
        "listed": listed,
        "precision": precision,
        "tpr": tpr,
        "fpr": fpr,
        "mean_score": lambda y, p: float(np.mean(p)) if len(p) else float("nan"),
        "roc_auc": roc_auc,
    }


def _finite(v: float) -> float | None:
    return None if v != v else round(float(v), 4)


def measure(
    y: np.ndarray, p: np.ndarray, threshold: float, groups: pd.DataFrame, limits: FairnessPolicy | None = None
) -> dict[str, Any]:
    """Per protected attribute: each group's figures, the between-group ratio and difference, and the limits it
    breaches (judged on groups of at least `min_group` customers)."""
    from fairlearn.metrics import MetricFrame

    limits = limits or FairnessPolicy()
    out: dict[str, Any] = {}
    for name in groups.columns:
        g = banded(name, groups[name].reset_index(drop=True))
        frame = MetricFrame(
            metrics=_metrics(threshold), y_true=np.asarray(y), y_pred=np.asarray(p), sensitive_features=g.rename(name)
        )
        by = frame.by_group
        judged = by[by["customers"] >= limits.min_group]
        listed = judged["listed"].dropna()
        parity = float(listed.min() / listed.max()) if len(listed) > 1 and listed.max() > 0 else None
        gaps = [judged[m].dropna() for m in ("tpr", "fpr")]
        odds = max((float(s.max() - s.min()) for s in gaps if len(s) > 1), default=None)
        breaches = []
        if parity is not None and parity < limits.min_parity_ratio:
            breaches.append(f"{name}: listed-share ratio {parity:.2f} < {limits.min_parity_ratio:g}")
        if odds is not None and odds > limits.max_odds_difference:
            breaches.append(f"{name}: equalised-odds difference {odds:.2f} > {limits.max_odds_difference:g}")
        out[name] = {
            "groups": {str(k): {m: _finite(v) for m, v in row.items()} for k, row in by.iterrows()},
            "threshold": round(float(threshold), 4),  # listed from this score: the list's decision
            "parity_ratio": _finite(parity) if parity is not None else None,
            "odds_difference": _finite(odds) if odds is not None else None,
            "breaches": breaches,
        }
    return out


def fairness_summary(fairness: dict[str, Any]) -> dict[str, Any]:
    """What the service's /v1/model and the console show: per attribute the ratio, the difference, the
    breaches and each group's size, listed share, TPR and FPR."""
    keep = ("customers", "listed", "tpr", "fpr")
    return {
        name: {
            "parity_ratio": a["parity_ratio"],
            "odds_difference": a["odds_difference"],
            "breaches": a["breaches"],
            "groups": {g: {k: m.get(k) for k in keep} for g, m in a["groups"].items()},
        }
        for name, a in fairness.items()
    }


def breaches(fairness: dict[str, Any]) -> list[str]:
    return [b for a in fairness.values() for b in a.get("breaches", [])]


def allowed_lines(allowed: dict[str, str]) -> list[str]:
    """The protected attributes the policy let the model use, each with its justification, for every report."""
    if not allowed:
        return []
    said = "; ".join(f"{md_text(n)}: {md_text(why)}" for n, why in allowed.items())
    return [f"**Protected attributes used as features** (the policy's `allow_protected`): {said}.", ""]


def fairness_markdown(
    fairness: dict[str, Any], limits: FairnessPolicy | None = None, allowed: dict[str, str] | None = None
) -> list[str]:
    """The report's fairness section: a table per protected attribute, what breaches the limits, the possible
    proxies, and the protected attributes the policy let the model use with their justification."""
    limits = limits or FairnessPolicy()
    if not fairness:
        return [
            "## Fairness",
            "",
            "No protected attributes are declared in the mapping (`protected:`): fairness "
            "is not measured. Declare sex, age, marital status and the like to keep them out of the model and "
            "measure each group.",
            "",
        ]
    lines = [
        "## Fairness",
        "",
        f"The list's decisions on the holdout (listed from a score of {_first(fairness, 'threshold')}: the High "
        "cut-off, or the policy's max_list_share of the book when that lists fewer), per group of each protected "
        f"attribute (kept out of the model). Limits: listed-share ratio >= {limits.min_parity_ratio:g}, "
        f"equalised-odds difference <= {limits.max_odds_difference:g}, judged on groups of {limits.min_group}+ "
        "customers.",
        "",
        *allowed_lines(allowed or {}),
        "![fairness](fairness.png)",
        "",
    ]
    for name, a in fairness.items():
        named = [
            f"{md_text(p['feature'])} (group {md_text(p['group'])}, AUC {p['auc']:.2f})" for p in a.get("proxies", [])
        ]
        proxy = (
            (
                "Possible proxies (features that tell a group apart; judge whether each is legitimate): "
                + ", ".join(named)
                + "."
            )
            if named
            else f"No feature tells a group apart at AUC {limits.proxy_auc:g}+."
        )
        verdict = f"**breaches**: {md_text('; '.join(a['breaches']))}" if a["breaches"] else "within the limits"
        lines += [
            f"**{md_text(name)}**: listed-share ratio {_said(a['parity_ratio'])}, equalised-odds difference "
            f"{_said(a['odds_difference'])}; {verdict}",
            "",
            proxy,
            "",
            "| group | customers | base rate | listed | precision | TPR | FPR | mean score | ROC-AUC |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for group, m in a["groups"].items():
            rates = " | ".join(_pct(m[k]) for k in ("base_rate", "listed", "precision", "tpr", "fpr", "mean_score"))
            lines.append(f"| {md_text(group)} | {int(m['customers'] or 0):,} | {rates} | {_said(m['roc_auc'])} |")
        lines.append("")
    return lines


def _first(fairness: dict[str, Any], key: str) -> str:
    first: dict[str, Any] = next(iter(fairness.values()), {})
    v = first.get(key)
    return "-" if v is None else f"{v:.3f}"


def _said(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"
