"""What-if for the client view: a customer's stored feature vector with one or two values changed, scored by the
model that scored the run, with the reasons of the edited vector. Nothing is recorded. The vector is read from
the warehouse (the cohort's features table, as the run computed it) and checked against the run: the unchanged
vector must give the run's score, so a what-if never explains a customer with features the run did not see."""

from __future__ import annotations

import math
from typing import Any

from riskops.core.errors import RiskOpsError
from riskops.data.contract import table_name
from riskops.features.engineering import ID_COLUMN
from riskops.io.warehouse.base import Warehouse
from riskops.scoring.online import Decision, LoadedModel, decide
from riskops.scoring.policy import OffboardConfig

MAX_CHANGES = 2  # one or two features at a time: what a person can reason about
SAME_SCORE = 1e-6


class WhatIfError(RiskOpsError):
    """A what-if that cannot be answered truthfully now: the run was scored by another model, or the stored
    features changed since (the service answers 409)."""


class BadChange(WhatIfError):
    """A change the model cannot take: not one of its numeric features, not finite, too many (422)."""


def stored_features(wh: Warehouse, cohort: str, customer_id: str) -> dict[str, Any] | None:
    """The customer's row of `<cohort>_features`, or None when it is not there."""
    rows = wh.rows_where(table_name(cohort, "features"), ID_COLUMN, customer_id).to_pylist()
    return rows[0] if rows else None


def check_changes(m: LoadedModel, changes: dict[str, float]) -> None:
    if not 1 <= len(changes) <= MAX_CHANGES:
        raise BadChange(f"{len(changes)} features changed", "changes", f"change 1 to {MAX_CHANGES} features")
    for name, value in changes.items():
        if name not in m.card.features or name in m.card.categorical:
            raise BadChange(
                f"{name!r} is not a numeric feature of model {m.version}",
                f"changes.{name}",
                "change one of the features the client view lists",
            )
        if not math.isfinite(value):
            raise BadChange(f"{name} = {value} is not a finite number", f"changes.{name}", "give a number")


def _said(d: Decision) -> dict[str, Any]:
    return {"score": d.score, "segment": d.segment, "offboard": d.offboard, "rules": d.rules, "reasons": d.reasons}


def what_if(
    m: LoadedModel,
    values: dict[str, Any],
    changes: dict[str, float],
    cfg: OffboardConfig,
    run_score: float,
    run_model: str,
) -> dict[str, Any]:
    """The customer's decision before and after `changes`, under the run's policy."""
    check_changes(m, changes)
    if m.version != run_model:
        raise WhatIfError(
            f"the run was scored by model {run_model}; this service now serves {m.version}",
            "the scoring run",
            "re-run scoring with the current champion, then try again",
        )
    before = decide(m, values, cfg)
    if abs(before.score - run_score) > SAME_SCORE:
        raise WhatIfError(
            f"the stored features give {before.score:.4f}, the run said {run_score:.4f}: the features "
            "table changed since the run",
            "the warehouse",
            "re-run scoring, then try again",
        )
    after = decide(m, {**values, **changes}, cfg)
    edited = [{"feature": f, "words": m.glossary.says(f), "from": values.get(f), "to": v} for f, v in changes.items()]
    return {"before": _said(before), "after": _said(after), "changes": edited, "model_version": m.version}
