"""A second book shape for tests and `make run`: a credit-card book. Each customer has a limit and integer-coded
attributes (sex, education, marital status, as many credit bureaus export them), twelve monthly statements
(`bill`, money out) and repayments (`payment`, money in, often late or short for the risky ones), and the label is
a default after the cut-off, at a base rate near 20%. Nothing in it is AML: it is there to show the platform fits
a book it was not shaped on (issue: bring your own book). Written in the generator's folder layout."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from riskops.data.contract import TRANSACTION_COLUMNS, Mapping, as_of_cutoff

DEFAULT_AS_OF = date(2026, 9, 30)
MONTHS = 12
CODED = ["sex", "education", "marriage"]  # integer codes that mean categories
MAPPING = Mapping(  # how `riskops run --data credit` reads the book
    categorical=CODED,
    protected=["sex", "age", "marriage"],  # never decided on; measured for fairness
    label_words={"SUSPENDED": "defaulted", "ACTIVE": "repaid"},
    descriptions={
        "limit_bal": "credit limit", "sex": "sex (code)", "age": "age in years",
        "education": "education (code: 1 graduate school, 2 university, 3 high school, 4 other)",
        "marriage": "marital status (code: 1 married, 2 single, 3 other)",
    },
)  # fmt: skip


def generate_credit(out: Path, customers: int = 20_000, seed: int = 42, as_of: date = DEFAULT_AS_OF,
                    unlabelled_share: float = 0.2) -> dict[str, object]:  # fmt: skip
    """Write `<out>/{labelled,unlabelled}/{customers,transactions}.parquet` and manifest.json; returns the manifest."""
    if customers < 2:
        raise ValueError("--customers must be at least 2")
    rng = np.random.default_rng(seed)
    n = customers
    limit = np.round(np.exp(rng.normal(np.log(80_000), 0.7, n)), -3).clip(10_000, 800_000)
    sex = rng.choice([1, 2], n, p=[0.4, 0.6])
    education = rng.choice([1, 2, 3, 4], n, p=[0.35, 0.45, 0.16, 0.04])
    marriage = rng.choice([1, 2, 3], n, p=[0.45, 0.52, 0.03])
    age = rng.integers(21, 76, n)
    # A latent ability to pay; the bills, the repayments and the default all follow from it.
    stress = (rng.normal(0, 1, n) + 0.35 * (education >= 3) - 0.45 * np.log(limit / 80_000) + 0.3 * (age < 26)
              + 0.15 * (marriage == 1))  # fmt: skip
    utilisation = np.clip(0.25 + 0.18 * stress + rng.normal(0, 0.12, n), 0.01, 1.2)
    cutoff = as_of_cutoff(as_of)
    rows: dict[str, list[object]] = {c.name: [] for c in TRANSACTION_COLUMNS}
    shortfall = np.zeros(n)
    late = np.zeros(n)
    ids = np.array([f"K{i:06d}" for i in range(n)])
    for m in range(MONTHS):
        statement = cutoff - timedelta(days=30 * (MONTHS - m) - 2)
        bill = np.round(limit * np.clip(utilisation + rng.normal(0, 0.05, n), 0.0, 1.3), 2)
        pay_share = np.clip(0.9 - 0.35 * stress + rng.normal(0, 0.25, n), 0.0, 1.0)
        missed = rng.random(n) < 1 / (1 + np.exp(-(1.6 * stress - 3.2)))
        pay_share[missed] = 0.0
        shortfall += (1 - pay_share) * (bill > 0)
        delay = np.where(stress + rng.normal(0, 0.7, n) > 1.0, rng.integers(20, 40, n), rng.integers(5, 18, n))
        late += delay > 25
        for i in np.flatnonzero(bill > 0):
            _tx(rows, f"B{m:02d}-{ids[i]}", ids[i], statement, bill[i], "out", "bill")
        for i in np.flatnonzero(pay_share > 0):
            when = statement + timedelta(days=int(delay[i]))
            if when < cutoff:
                _tx(rows, f"P{m:02d}-{ids[i]}", ids[i], when, round(bill[i] * pay_share[i], 2), "in", "payment")
    logit = -2.95 + 1.1 * stress + 0.35 * shortfall / MONTHS * 4 + 0.18 * late - 0.1 * (sex == 2)
    default = rng.random(n) < 1 / (1 + np.exp(-logit))
    signup = [cutoff - timedelta(days=int(d)) for d in rng.integers(400, 3000, n)]
    unlabelled = rng.random(n) < unlabelled_share
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tx = pa.table(rows)
    owner = np.asarray(tx.column("customer_id").to_pylist())
    counts: dict[str, dict[str, int]] = {}
    for cohort, members in (("labelled", ~unlabelled), ("unlabelled", unlabelled)):
        (tmp / cohort).mkdir(parents=True)
        customers_table = {
            "customer_id": ids[members], "signup_ts": np.array(signup)[members], "limit_bal": limit[members],
            "sex": sex[members], "education": education[members], "marriage": marriage[members], "age": age[members],
        }  # fmt: skip
        if cohort == "labelled":
            customers_table["account_state"] = np.where(default[members], "SUSPENDED", "ACTIVE")
        pq.write_table(pa.table(customers_table), tmp / cohort / "customers.parquet")
        mine = tx.filter(pa.array(np.isin(owner, ids[members])))
        pq.write_table(mine, tmp / cohort / "transactions.parquet")
        counts[cohort] = {"customers": int(members.sum()), "transactions": mine.num_rows}
    manifest = {
        "source": "credit", "created": datetime.now(UTC).isoformat(), "seed": seed, "as_of": as_of.isoformat(),
        "counts": counts, "default_share": round(float(default[~unlabelled].mean()), 4), "categorical": CODED,
    }  # fmt: skip
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return manifest


def _tx(rows: dict[str, list[object]], tid: str, cid: str, ts: datetime, amount: float, direction: str,
        kind: str) -> None:  # fmt: skip
    for key, value in (("transaction_id", tid), ("customer_id", cid), ("ts", ts), ("amount", float(amount)),
                       ("direction", direction), ("currency", "TWD"), ("type", kind), ("counterparty_id", "card"),
                       ("country", "TW"), ("status", "completed")):  # fmt: skip
        rows[key].append(value)
