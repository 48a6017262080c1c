"""The model card a person reads (one page per version, after Mitchell et al., "Model Cards for Model
Reporting"): intended use, uses it is not for, data, metrics, fairness, limitations and approvals. Built from the
registry's record of the version (`ModelCard`, card.json) and its approval log, never stored apart from them, so it
cannot disagree with what decides. Served at /v1/model/card and shown on the console's Models page.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from riskops.data.contract import outcome_word
from riskops.model.approval import Approval, state_of
from riskops.model.fairness import breaches, fairness_summary
from riskops.model.pack import Pack, read_pack
from riskops.model.registry import ModelCard, Registry

SMALL_POSITIVES = 100  # below this many positive examples the holdout figures swing widely between samples
WIDE_CV = 0.05  # a cross-validated PR-AUC spread above this: the ranking depends on the sample


class CardPage(BaseModel):
    version: str
    family: str
    created: str
    as_of: str
    registered_by: str
    code_version: str
    intended_use: list[str]
    not_intended_use: list[str]
    data: dict[str, Any]
    metrics: dict[str, float]
    fairness: dict[str, Any]
    limitations: list[str]
    validation: dict[str, Any]
    approval: dict[str, Any]


def card_page(card: ModelCard, log: list[Approval], pack: Pack | None = None) -> CardPage:
    """One version's model card (with its validation pack's verdicts, when it has one)."""
    word = outcome_word(card.feature_config.get("label_words") or {})
    m = card.metrics
    at = m.get("at_cost_optimal", {})
    cv = card.cv.get(card.family, {})
    metrics = {
        "holdout_roc_auc": m["roc_auc"],
        "holdout_pr_auc": m["pr_auc"],
        "holdout_brier": m["brier"],
        "base_rate": m.get("base_rate", 0.0),
        "threshold": card.threshold,
        "precision_at_threshold": at.get("precision", 0.0),
        "recall_at_threshold": at.get("recall", 0.0),
        "cv_pr_auc_mean": cv.get("pr_auc_mean", 0.0),
        "cv_pr_auc_std": cv.get("pr_auc_std", 0.0),
    }
    if "calibration_slope" in m:
        metrics["calibration_slope"] = m["calibration_slope"]
    protected = list(card.feature_config.get("protected") or [])
    allowed = dict(card.feature_config.get("allowed_protected") or {})
    return CardPage(
        version=card.version,
        family=card.family,
        created=card.created,
        as_of=card.as_of,
        registered_by=card.registered_by,
        code_version=card.code_version,
        intended_use=[
            f"Rank this book's current customers by their chance of ending {word}, so that reviewers look at the "
            "riskiest first, with the reasons that put each one there.",
            "Propose an off-boarding list: each listed customer is decided by a reviewer and confirmed by an "
            "approver (four eyes) before anything happens to them.",
        ],
        not_intended_use=[
            "Deciding about a customer without a person reviewing the case.",
            f"Customers of another book, product or country than the one it learned from (as of {card.as_of}), "
            "or this book once the drift monitor flags it.",
            "Credit, pricing or any decision other than the review it was trained for.",
        ],
        data={
            "labelled_customers": card.rows.get("customers", 0),
            "development_rows": card.rows.get("development", 0),
            "holdout_rows": card.rows.get("holdout", 0),
            "positives": card.rows.get("suspended", 0),
            "label": f"{word} (positive) against the book's other outcome",
            "features": len(card.features),
            "dropped_features": dict(card.dropped),
            "protected_attributes_excluded": [p for p in protected if p not in allowed],
            "protected_attributes_used": allowed,
        },
        metrics=metrics,
        fairness=fairness_summary(m.get("fairness", {})),
        limitations=limitations(card, word),
        validation=pack.summary() if pack else {"status": "not validated", "sections": []},
        approval={"state": state_of(log), "log": [e.model_dump() for e in log]},
    )


def limitations(card: ModelCard, word: str) -> list[str]:
    """What the data cannot show, in words generated from the version's own figures."""
    m, said = card.metrics, []
    positives = int(m.get("holdout_suspended", 0))
    if positives < SMALL_POSITIVES:
        said.append(
            f"The holdout holds {positives} {word} customers: its figures carry wide intervals; "
            "read the cross-validated spread beside them."
        )
    cv = card.cv.get(card.family, {})
    if cv.get("pr_auc_std", 0.0) > WIDE_CV:
        said.append(
            f"Cross-validated PR-AUC varies by ±{cv['pr_auc_std']:.3f} between folds: the ranking depends on the "
            "sample it learned from."
        )
    said.append(
        f"It learned from customers whose outcome was already {word} or not as of {card.as_of}; customers who "
        "left the book another way, and behaviour after that date, are not in it."
    )
    if card.dropped:
        said.append(f"{len(card.dropped)} features could not be used (constant or empty): {', '.join(card.dropped)}.")
    found = breaches(m.get("fairness", {}))
    if found:
        said.append("Fairness limits breached on the holdout: " + "; ".join(found) + ".")
    elif not card.feature_config.get("protected"):
        said.append("The book declared no protected attributes, so fairness across groups was not measured.")
    slope = m.get("calibration_slope")
    if slope is not None and not 0.8 <= slope <= 1.2:
        said.append(f"Scores are miscalibrated on the holdout (slope {slope:.2f}): read them as ranks, not rates.")
    return said


def version_card(registry: Registry, version: str) -> CardPage:
    card = registry.card(version)
    return card_page(card, registry.approvals.entries(version), read_pack(registry.store, version))
