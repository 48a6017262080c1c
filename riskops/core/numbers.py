"""Values in words: the one formatter for the numbers a person reads in a reason, a list, a report, the console
and the service's answers. Counts as integers with thousands separators, amounts with the book's currency,
everything else with three significant digits and never in scientific notation (0.0000123, not 1.23e-05)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

NONE = "none"  # what a missing value reads as


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, str):
        return None
    v = float(value)
    return None if math.isnan(v) else v


def significant(v: float, digits: int = 3) -> str:
    """`digits` significant digits, thousands separated, positional (1234.5 -> 1,234; 53.31 -> 53.3)."""
    if not math.isfinite(v):
        return str(v)
    if abs(v) >= 10 ** (digits - 1):
        return f"{v:,.0f}"
    return str(np.format_float_positional(v, precision=digits, unique=False, fractional=False, trim="-"))


def count(value: Any) -> str:
    """A count: an integer with thousands separators (1,234)."""
    v = _number(value)
    return value if isinstance(value, str) else NONE if v is None else f"{v:,.0f}"


def amount(value: Any, currency: str = "") -> str:
    """An amount: whole units from 100 up (2,039 EUR), three significant digits below (53.3 EUR, 0.125)."""
    v = _number(value)
    if v is None:
        return value if isinstance(value, str) else NONE
    text = f"{v:,.0f}" if v.is_integer() or abs(v) >= 100 else significant(v)
    return f"{text} {currency}" if currency else text


def ratio(value: Any) -> str:
    """A ratio or any other measure: three significant digits (1.76, 12.3, 1,234)."""
    v = _number(value)
    return value if isinstance(value, str) else NONE if v is None else significant(v)


def share(value: Any) -> str:
    """A share of 0..1 as a percentage: whole percents, one decimal below 10% (4.3%, 37%)."""
    v = _number(value)
    if v is None:
        return value if isinstance(value, str) else NONE
    return f"{v:.1%}" if abs(v) < 0.1 and v != 0 else f"{v:.0%}"


def days(value: Any) -> str:
    v = _number(value)
    return value if isinstance(value, str) else NONE if v is None else f"{v:,.0f} days"


def score(value: Any) -> str:
    """A model score (a calibrated probability): three decimals (0.881)."""
    v = _number(value)
    return value if isinstance(value, str) else NONE if v is None else f"{v:.3f}"
