"""Features that fit the book: the transaction types and the windows are read off the labelled cohort (one small
query in the warehouse) instead of assumed, so a credit book with monthly repayments does not get empty `card`
aggregates and 7-day windows nobody transacts in. The chosen config is saved with the run and the model (the
card's `feature_config`), so scoring and the service build the same features."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from riskops.data.contract import table_name
from riskops.features.engineering import DAY_US, THRESHOLD_CURRENCY, FeatureConfig, type_slug

MAX_TYPES = 12
MIN_TYPE_SHARE = 0.001  # a type on fewer than 0.1% of the transactions (and 20 of them) is not a feature of its own
MIN_TYPE_ROWS = 20


@dataclass
class Adapted:
    config: FeatureConfig
    notes: list[str] = field(default_factory=list)  # what was chosen and why, for the run report


def adapt(wh: Any, cohort: str, cutoff: datetime, base: FeatureConfig | None = None) -> Adapted:
    """The feature config for the book in `<cohort>_transactions`: its frequent transaction types, and the
    windows in which a customer has at least one transaction on average and that fit in its history."""
    base = base or FeatureConfig()
    ref = wh.ref(table_name(cohort, "transactions"))
    cut = int(cutoff.timestamp() * 1_000_000)
    summary = wh.query(
        f"SELECT COUNT(*) AS n, COUNT(DISTINCT customer_id) AS customers, MIN(UNIX_MICROS(ts)) AS first_us FROM {ref}"
    ).to_pylist()[0]
    n, customers = int(summary["n"] or 0), int(summary["customers"] or 0)
    if n == 0:
        return Adapted(
            base.model_copy(update={"types": ()}),
            ["no transactions: the transaction features are generated empty and dropped as constant"],
        )
    counts = wh.query(
        f"SELECT type AS t, COUNT(*) AS n FROM {ref} WHERE type IS NOT NULL GROUP BY 1 ORDER BY n DESC, t LIMIT 50"
    ).to_pylist()
    main = wh.query(
        f"SELECT currency AS c, COUNT(*) AS n FROM {ref} WHERE currency IS NOT NULL "
        "GROUP BY 1 ORDER BY n DESC, c LIMIT 1"
    ).to_pylist()
    currency = str(main[0]["c"]) if main else None
    frequent = [r for r in counts if r["n"] >= max(MIN_TYPE_ROWS, MIN_TYPE_SHARE * n)]
    named: dict[str, str] = {}  # slug -> the data's own type: two types one name apart get one feature set
    for r in frequent:
        named.setdefault(type_slug(str(r["t"])), str(r["t"]))
    types = tuple(named.values())[:MAX_TYPES]
    notes = [f"transaction types from the data: {', '.join(types) or 'none'}; main currency {currency or 'unknown'}"]
    left = [str(r["t"]) for r in counts if str(r["t"]) not in types]
    if left:
        notes.append(
            f"types without features of their own (rare, beyond {MAX_TYPES}, or named like another): " + ", ".join(left)
        )
    history_days = max((cut - int(summary["first_us"])) / DAY_US, 1.0)
    per_day = n / max(customers, 1) / history_days  # a customer's transactions per day, on average
    needed = {base.recent_window, base.long_window}  # the ratios compare these two: always built
    windows = tuple(w for w in base.windows if w in needed or (w <= history_days * 1.5 and w * per_day >= 1))
    dropped = sorted(set(base.windows) - set(windows))
    notes.append(
        f"windows {', '.join(f'{w}d' for w in windows)} (history {history_days:,.0f} days, "
        f"{per_day * 30:,.1f} transactions per customer per 30 days"
        + (
            f"; left out {', '.join(f'{w}d' for w in dropped)}: too short to hold a transaction or longer than "
            "the history"
            if dropped
            else ""
        )
        + ")"
    )
    type_windows = tuple(w for w in base.type_windows if w in windows) or (max(windows),)
    update = {
        "types": types,
        "windows": windows,
        "type_windows": type_windows,
        "currency": currency,
        "threshold_currency": base.threshold_currency or THRESHOLD_CURRENCY,
    }
    config = base.model_copy(update=update)
    if not config.amount_thresholds_apply:
        notes.append(
            f"no near-threshold or micro-transfer features: their amounts ({config.reporting_threshold:,.0f} and "
            f"{config.small_amount:g}) are in {config.threshold_currency}, the book is in {currency}"
        )
    return Adapted(config, notes)
