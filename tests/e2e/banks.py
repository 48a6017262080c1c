"""A generated book laid out as a bank exports it, and the mapping that reads it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def bank_layout(generated: Path, out: Path) -> Path:
    """A generated book laid out as a bank exports it: one file per table (customers CSV, transactions Parquet),
    its own column names (spaces, unicode, a slash, a dot, a quote) and label and direction values, no
    manifest."""
    for cohort in ("labelled", "unlabelled"):
        (out / cohort).mkdir(parents=True)
        c = pd.read_parquet(generated / cohort / "customers").rename(
            columns={
                "customer_id": "Kunden Nr",
                "signup_ts": "eröffnet",
                "account_state": "Status.final",
                "kyc_level": "KYC stufe",
                "signup_channel": "Kunde's Kanal",
            }
        )
        if "Status.final" in c:
            c["Status.final"] = c["Status.final"].map({"ACTIVE": "open", "SUSPENDED": "closed_risk"})
        c.to_csv(out / cohort / "customers.csv", index=False)
        t = pd.read_parquet(generated / cohort / "transactions")
        t = t.rename(columns={"customer_id": "Kunden Nr", "ts": "gebucht am", "direction": "S/H"})
        t["S/H"] = t["S/H"].map({"in": "H", "out": "S"})
        t.to_parquet(out / cohort / "transactions.parquet", index=False)
    return out


BANK_MAPPING = """
customers:
  columns: {customer_id: Kunden Nr, signup_ts: eröffnet, account_state: Status.final}
transactions:
  columns: {customer_id: Kunden Nr, ts: gebucht am, direction: S/H}
labels: {ACTIVE: [open], SUSPENDED: [closed_risk]}
directions: {in: [H], out: [S]}
"""
