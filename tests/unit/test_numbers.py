"""Values in words (riskops.core.numbers) and the off-boarding list as a spreadsheet opens it."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from riskops.core import numbers
from riskops.scoring.offboard import listing_csv, read_listing


@pytest.mark.parametrize(
    "value, currency, said",
    [(2039.4, "EUR", "2,039 EUR"), (53.31, "EUR", "53.3 EUR"), (0.1254, "", "0.125"), (20000.0, "", "20,000"),
     (-1.0, "", "-1"), (0.0000123456, "TWD", "0.0000123 TWD"), (None, "EUR", "none"), (float("nan"), "", "none"),
     ("NG", "", "NG"), (100.0, "", "100"), (99.96, "", "100")],
)  # fmt: skip
def test_an_amount_reads_with_its_currency_and_three_significant_digits(
    value: object, currency: str, said: str
) -> None:
    assert numbers.amount(value, currency) == said


def test_counts_shares_ratios_days_and_scores() -> None:
    assert numbers.count(1234.0) == "1,234" and numbers.count(2.6) == "3" and numbers.count(None) == "none"
    assert numbers.share(0.37) == "37%" and numbers.share(0.043) == "4.3%" and numbers.share(0) == "0%"
    assert numbers.ratio(1.7634) == "1.76" and numbers.ratio(12.34) == "12.3" and numbers.ratio(12345.6) == "12,346"
    assert numbers.days(3.2) == "3 days" and numbers.score(0.881203965935182) == "0.881"
    assert "e" not in numbers.ratio(1.23e-7)  # never scientific notation


def test_the_list_opens_in_a_spreadsheet_with_a_column_per_reason_and_no_formula() -> None:
    listing = pd.DataFrame(
        {
            "customer_id": ['=HYPERLINK("http://x")', "007", "Zoë"],
            "score": [0.881203965935182, 0.5, 0.123456789],
            "segment": ["High"] * 3,
            "rules": ["fan_in", "", ""],
            "offboard": [True] * 3,
            "reasons": ["cash in: 2,039 EUR (typical customer: 53.3 EUR); -1 chargebacks", "age: 3 days", ""],
            "rules_explained": ["fan_in: many senders", "", ""],
        }
    )
    text = listing_csv(listing)
    frame = pd.read_csv(io.StringIO(text), dtype={"customer_id": str}, keep_default_na=False)
    assert list(frame.columns) == [
        "customer_id",
        "score",
        "segment",
        "rules",
        "reason_1",
        "reason_2",
        "rules_explained",
    ]
    assert frame["score"].tolist() == [0.8812, 0.5, 0.1235]
    assert frame["customer_id"].tolist() == ['\'=HYPERLINK("http://x")', "007", "Zoë"]  # text, never a formula
    assert frame["reason_2"].tolist() == ["'-1 chargebacks", "", ""]
    back = read_listing(text)
    assert back["reasons"].tolist()[1:] == ["age: 3 days", ""] and back["customer_id"].tolist()[1] == "007"
    bom = listing_csv(listing, bom=True)
    assert bom.encode("utf-8").startswith(b"\xef\xbb\xbf") and read_listing(bom)["customer_id"].tolist()[2] == "Zoë"
