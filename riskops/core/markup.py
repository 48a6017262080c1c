"""Data never becomes markup, script or a formula: the one place where values from data (ids, attribute values,
column names, reasons) are made safe for what shows them - Markdown/HTML reports, CSV files a spreadsheet opens,
and JSON embedded in a page. The console's templates use Jinja's autoescape and `page_json`; the reports write
every value with `md_text`, and `riskops.model.reporting.markdown_html` sanitises the rendered HTML besides (no
script, event handler or `javascript:` link survives it even if a value slipped through unescaped)."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pandas as pd

# Markdown's own syntax characters, backslash-escaped so a value is shown as written, never as formatting.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|])")
# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def compact(x: float) -> str:
    """A number for an axis or a bin label: three significant digits, thousands as k and millions as M, never in
    scientific notation (1.24e+05 -> 124k; 0.000123 -> 0.000123)."""
    a = abs(x)
    if a >= 1e9:
        return f"{x / 1e9:.3g}G"
    if a >= 1e6:
        return f"{x / 1e6:.3g}M"
    if a >= 1e4:
        return f"{x / 1e3:.3g}k"
    if a >= 1 or a == 0:
        return f"{x:,.4g}" if a < 1e4 else f"{x:,.0f}"
    return f"{x:.3g}" if a >= 1e-4 else f"{x:.2e}"


def md_text(value: Any) -> str:
    """A value as Markdown text that renders exactly as written: HTML special characters become entities,
    Markdown syntax is backslash-escaped, line breaks become spaces (a value never ends a table row)."""
    text = " ".join(str(value).splitlines())
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))  # & < > as entities, then Markdown


def csv_cell(value: Any) -> Any:
    """A value a spreadsheet shows as text: one starting with `=`, `+`, `-`, `@` or a control character is
    prefixed with `'` (numbers are left as numbers)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def safe_csv(frame: pd.DataFrame) -> str:
    """A frame as CSV whose text cells (and headers) cannot run as spreadsheet formulas."""
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(csv_cell)
    out.columns = [csv_cell(str(c)) for c in out.columns]
    return str(out.to_csv(index=False))


def page_json(value: Any) -> str:
    """JSON to embed in a page's `<script type="application/json">`: `<`, `>`, `&` and quotes are written as
    `\\u` escapes, so no value can close the script element or start markup."""
    text = json.dumps(value, default=str, allow_nan=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(ch, esc)
    return text
