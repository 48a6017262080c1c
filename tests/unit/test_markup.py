"""Data never becomes markup, script or a formula: reports, CSV files and page JSON with hostile values."""

from __future__ import annotations

import csv
import io
import json
import re

import pandas as pd

from riskops.core.markup import md_text, page_json, safe_csv
from riskops.model.reporting import markdown_html

HOSTILE = '</script><svg onload=alert(1)> [x](javascript:alert(2)) `a` |b| <a href="javascript:alert(3)">y</a>'


def test_a_hostile_value_in_a_report_is_text_and_nothing_active_survives() -> None:
    md = f"| id | n |\n|---|---|\n| {md_text(HOSTILE)} | 1 |\n\n[raw](javascript:alert(4))\n\n<script>alert(5)</script>"
    page = markdown_html(md + "\n\n![plot](scores.png)", "<title>", "body{}")
    tags = re.findall(r"<([a-z0-9]+)([^>]*)>", page)
    assert {t for t, _ in tags} <= {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "p",
        "a",
        "img",
    }
    assert not [attrs for _, attrs in tags if "javascript:" in attrs or re.search(r"\bon[a-z]+=", attrs)]
    assert "&lt;/script&gt;&lt;svg onload=alert(1)&gt;" in page  # the value is shown as written
    assert page.count("<tr>") == 2  # the `|` in the value did not make a new column or row
    assert '<img alt="plot" src="scores.png">' in page and "<title>&lt;title&gt;</title>" in page


def test_csv_cells_never_start_a_formula() -> None:
    text = safe_csv(
        pd.DataFrame({"customer_id": ['=HYPERLINK("http://x")', "+1", "@SUM(A1)", "ok"], "n": [1, 2, 3, 4]})
    )
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    assert not [c for c in cells if c.startswith(("=", "+", "@", "-"))]
    assert cells[2] == '\'=HYPERLINK("http://x")' and cells[-2:] == ["ok", "4"]


def test_page_json_cannot_close_its_script_element() -> None:
    text = page_json({"id": HOSTILE, "quote": "it's"})
    assert "<" not in text and ">" not in text and "'" not in text
    assert json.loads(text) == {"id": HOSTILE, "quote": "it's"}


def test_compact_numbers_for_axes_and_bins_never_use_scientific_notation() -> None:
    from riskops.core.markup import compact

    cases = {124_000: "124k", 1_234_567: "1.23M", 12_345: "12.3k", 2_500: "2,500", 5: "5", 0: "0", 0.5: "0.5"}
    cases |= {0.000123: "0.000123", -3e6: "-3M", 2.5e9: "2.5G"}
    assert {x: compact(x) for x in cases} == cases
