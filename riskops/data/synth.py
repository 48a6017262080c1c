"""Synthetic fintech book: customers, 6-18 months of transactions, and the behaviours that get accounts
suspended, mixed with benign look-alikes and label noise so that no single rule gives the label.

Streams in chunks of customers: each chunk is generated with its own seeded RNG and written as Parquet
parts, so 200k customers / 20M+ transactions never sit in memory together. The output folder appears
only when complete (written to `<out>.partial`, then renamed).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from riskops.core.progress import Tick
from riskops.data.contract import HIGH_RISK_COUNTRIES, LABEL_ACTIVE, LABEL_SUSPENDED, as_of_cutoff

log = logging.getLogger(__name__)

GENERATOR_VERSION = 1
DEFAULT_AS_OF = date(2026, 9, 30)
DEFAULT_CUSTOMERS = 20_000  # the book `riskops run` and `riskops generate` make when no size is asked for
DAY = 86_400_000_000  # microseconds
REPORTING_THRESHOLD = 10_000.0

HOME = ["GB", "DE", "FR", "ES", "IT", "NL", "IE", "PL", "PT", "BE", "SE", "AT"]
HOME_P = np.array([18, 16, 13, 10, 10, 7, 5, 6, 4, 4, 4, 3], float) / 100
HOME_CCY = {"GB": "GBP", "PL": "PLN", "SE": "SEK"}
TRAVEL = ["US", "CH", "TH", "MA", "MX", "JP"]
REMITTANCE = ["PH", "IN", "PK", "NG", "RO", "UA"]
COUNTRIES = HOME + TRAVEL + REMITTANCE + [c for c in HIGH_RISK_COUNTRIES if c not in REMITTANCE]
C_IDX = {c: i for i, c in enumerate(COUNTRIES)}
HIGH_RISK_IDX = np.array([C_IDX[c] for c in HIGH_RISK_COUNTRIES])
CURRENCIES = ["EUR", "GBP", "PLN", "SEK", "USD"]
CCY_IDX = {c: i for i, c in enumerate(CURRENCIES)}
TYPES = [
    "salary",
    "pension",
    "benefit",
    "transfer",
    "card",
    "bill",
    "withdrawal",
    "topup",
    "cash_deposit",
    "fx",
    "crypto",
]
T = {t: i for i, t in enumerate(TYPES)}
STATUSES = ["completed", "failed", "reversed", "chargeback"]
CP_KINDS = ["E", "M", "U", "P", "X", "A"]  # employer, merchant, utility, person, crypto exchange, own account
CP = {k: i for i, k in enumerate(CP_KINDS)}
OCCUPATIONS = ["employee", "self_employed", "student", "retired", "business_owner", "unemployed"]
OCC_P = np.array([0.55, 0.12, 0.10, 0.10, 0.06, 0.07])
OCC_INCOME = np.array([38_000, 45_000, 9_000, 22_000, 70_000, 7_000], float)
KYC = ["basic", "standard", "enhanced"]
CHANNELS = ["app", "web", "branch", "partner"]
TYPOLOGIES = ["structuring", "pass_through", "fan_in", "corridor", "chargeback", "dormant_burst", "mule"]
TYPO_P = np.array([0.14, 0.2, 0.14, 0.16, 0.12, 0.1, 0.14])
LOOKALIKES = [
    "remitter",
    "marketplace_seller",
    "savings_sweeper",
    "crypto_investor",
    "card_trouble",
    "returning",
]


@dataclass
class GenerateSummary:
    out: str
    seed: int
    as_of: str
    customers: dict[str, int]
    transactions: dict[str, int]
    suspended_share: float
    seconds: float
    transactions_per_second: float
    files: list[str] = field(default_factory=list)


HOUR = 3_600_000_000  # microseconds
IN, OUT = 0, 1  # direction codes, as written: ["in", "out"]
OCC = {o: i for i, o in enumerate(OCCUPATIONS)}
ST = {s: i for i, s in enumerate(STATUSES)}
Codes = int | np.ndarray


class _Tx:
    """Columnar buffer of one chunk's transactions (codes, not strings, until written)."""

    def __init__(self) -> None:
        self.cols: dict[str, list[np.ndarray]] = {
            k: [] for k in ("cust", "ts", "amount", "dir", "type", "cpk", "cpn", "country", "status", "ccy")
        }

    def add(
        self,
        cust: np.ndarray,
        *,
        ts: np.ndarray,
        amount: np.ndarray,
        direction: Codes,
        ttype: Codes,
        cp_kind: Codes,
        cp: np.ndarray,
        country: Codes,
        ccy: Codes,
        status: Codes = 0,
    ) -> None:
        n = len(cust)
        if n == 0:
            return
        for key, value, dtype in (
            ("cust", cust, np.int32),
            ("ts", ts, np.int64),
            ("amount", amount, np.float64),
            ("dir", direction, np.int8),
            ("type", ttype, np.int8),
            ("cpk", cp_kind, np.int8),
            ("cpn", cp, np.int64),
            ("country", country, np.int8),
            ("status", status, np.int8),
            ("ccy", ccy, np.int8),
        ):
            arr = np.asarray(value)
            self.cols[key].append(np.broadcast_to(arr, (n,)).astype(dtype, copy=False))

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v) if v else np.array([]) for k, v in self.cols.items()}


class _Chunk:
    """Customers [offset, offset+n) of one cohort, their hidden traits, and the helpers the behaviours below use
    to add their transactions."""

    def __init__(self, rng: np.random.Generator, n: int, offset: int, cutoff_us: int) -> None:
        self.rng, self.n, self.offset, self.end = rng, n, offset, cutoff_us
        r = rng
        self.age = np.clip(r.normal(41, 14, n), 18, 90).astype(np.int16)
        self.occ = r.choice(len(OCCUPATIONS), n, p=OCC_P)
        self.income = np.round(OCC_INCOME[self.occ] * r.lognormal(0, 0.45, n), -2)
        self.home = r.choice(len(HOME), n, p=HOME_P)
        self.ccy = np.array([CCY_IDX[HOME_CCY.get(h, "EUR")] for h in HOME])[self.home]
        self.kyc = r.choice(3, n, p=[0.3, 0.55, 0.15])
        self.channel = r.choice(4, n, p=[0.6, 0.25, 0.08, 0.07])
        self.mismatch = r.random(n) < 0.08
        tenure_days = r.integers(200, 6 * 365, n)
        self.signup = cutoff_us - tenure_days * DAY - r.integers(0, DAY, n)
        history = np.minimum(tenure_days - 1, r.integers(183, 548, n))  # 6-18 months
        self.start = cutoff_us - history * DAY
        self.activity = r.lognormal(0, 0.45, n)
        self.night = np.clip(r.beta(1.2, 18, n), 0, 0.5)  # chance a transaction happens 00-06h
        self._hide_traits(tenure_days)
        self.tx = _Tx()

    def _hide_traits(self, tenure_days: np.ndarray) -> None:
        """Who is a bad actor (attributes tilt it, never decide it), their typologies, benign look-alikes, and
        who ends SUSPENDED: not every bad actor is caught, and a few good customers are off-boarded too."""
        r, n = self.rng, self.n
        logit = (
            -2.8
            + 1.1 * self.mismatch
            + 0.5 * (self.kyc == 0)
            - 0.4 * (self.kyc == 2)
            + 0.8 * (self.channel == 3)
            + 0.5 * (self.age < 26)
            - 0.5 * (tenure_days > 3 * 365)
        )
        self.bad = r.random(n) < 1 / (1 + np.exp(-logit))
        self.intensity = np.where(self.bad, r.uniform(0.15, 1.0, n), 0.0)
        self.typo = np.full((n, len(TYPOLOGIES)), False)
        first = r.choice(len(TYPOLOGIES), n, p=TYPO_P)
        second = r.choice(len(TYPOLOGIES), n, p=TYPO_P)
        rows = np.arange(n)
        self.typo[rows, first] = self.bad
        self.typo[rows, second] |= self.bad & (r.random(n) < 0.3)
        self.look = r.random((n, len(LOOKALIKES))) < np.array([0.07, 0.05, 0.06, 0.05, 0.05, 0.05])
        self.look &= ~self.bad[:, None] | (r.random((n, 1)) < 0.5)
        self.night = np.where(self.bad, self.night + 0.12 * self.intensity, self.night)
        p_susp = np.where(
            self.bad, 0.2 + 0.6 * self.intensity, 0.004 + 0.01 * self.mismatch + 0.012 * self.look.any(axis=1)
        )
        self.suspended = r.random(n) < p_susp

    # -- helpers ---------------------------------------------------------------------------------------
    def has(self, typology: str) -> np.ndarray:
        return self.typo[:, TYPOLOGIES.index(typology)]

    def looks_like(self, lookalike: str) -> np.ndarray:
        return self.look[:, LOOKALIKES.index(lookalike)]

    def times(self, cust: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        r, m = self.rng, len(cust)
        t = lo + (r.random(m) * np.maximum(hi - lo, DAY)).astype(np.int64)
        day = t - t % DAY
        night = r.random(m) < self.night[cust]
        hour = np.where(night, r.uniform(0, 6, m), r.uniform(6.5, 23.5, m))
        ts = day + (hour * HOUR).astype(np.int64)
        return np.clip(ts, self.start[cust], self.end - 1)

    def anytime(self, cust: np.ndarray) -> np.ndarray:
        """Times anywhere in each customer's history."""
        return self.times(cust, self.start[cust], np.full(len(cust), self.end))

    def add(
        self,
        cust: np.ndarray,
        *,
        ts: np.ndarray,
        amount: np.ndarray,
        direction: Codes,
        ttype: Codes,
        cp_kind: Codes,
        cp: np.ndarray,
        country: Codes | None = None,
        ccy: Codes | None = None,
        status: Codes = 0,
    ) -> None:
        """Add transactions; country and currency default to the customer's home."""
        self.tx.add(
            cust,
            ts=ts,
            amount=amount,
            direction=direction,
            ttype=ttype,
            cp_kind=cp_kind,
            cp=cp,
            country=self.home[cust] if country is None else country,
            ccy=self.ccy[cust] if ccy is None else ccy,
            status=status,
        )

    def per_customer(self, mask: np.ndarray, counts: np.ndarray) -> np.ndarray:
        counts = np.where(mask, np.maximum(counts, 0), 0).astype(np.int64)
        return np.repeat(np.arange(self.n), counts)

    def months(self) -> np.ndarray:
        return (self.end - self.start) // (30 * DAY)

    def strangers(self, m: int) -> np.ndarray:
        return self.rng.integers(10**8, 10**9, m)

    def contacts(self, cust: np.ndarray, pool: int = 8) -> np.ndarray:
        return (self.offset + cust) * 16 + self.rng.integers(0, pool, len(cust))

    def own_account(self, cust: np.ndarray) -> np.ndarray:
        return self.offset + cust

    def recent(self, cust: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo = np.maximum(self.end - days * DAY, self.start[cust])
        return lo, np.full(len(cust), self.end)

    def quiet_periods(self, tx: dict[str, np.ndarray]) -> np.ndarray:
        """Mask out everyday activity during dormancy (dormant_burst typology and 'returning' look-alikes)."""
        r = self.rng
        dormant = self.has("dormant_burst") | self.looks_like("returning")
        gap = np.where(dormant, r.integers(90, 200, self.n), 0) * DAY
        resume = self.end - np.where(self.has("dormant_burst"), 45, r.integers(20, 60, self.n)) * DAY
        c = tx["cust"]
        return ~(dormant[c] & (tx["ts"] >= resume[c] - gap[c]) & (tx["ts"] < resume[c]))


# -- everyday life -------------------------------------------------------------------------------------------


def monthly_income(ch: _Chunk) -> None:
    """Salary, pension, benefits, or a student's allowance (a transfer from a family contact), once a month."""
    r, occ = ch.rng, ch.occ
    paid = np.isin(occ, [OCC["employee"], OCC["student"], OCC["retired"], OCC["unemployed"]])
    cust = ch.per_customer(paid, ch.months())
    k = _rank_within(cust, ch.n)
    ts = ch.start[cust] + (k * 30 + r.integers(25, 29, len(cust))) * DAY + r.integers(6, 10, len(cust)) * HOUR
    o = occ[cust]
    kind = np.select(
        [o == OCC["employee"], o == OCC["retired"], o == OCC["unemployed"]],
        [T["salary"], T["pension"], T["benefit"]],
        T["transfer"],
    )
    amount = np.round(ch.income[cust] / 12 * r.normal(1, 0.03, len(cust)), 2)
    student = o == OCC["student"]
    ch.add(
        cust,
        ts=np.minimum(ts, ch.end - 1),
        amount=amount,
        direction=IN,
        ttype=kind,
        cp_kind=np.where(student, CP["P"], CP["E"]),
        cp=np.where(student, (ch.offset + cust) * 16, (ch.offset + cust) // 40),  # family contact, or employer
    )


def invoices(ch: _Chunk) -> None:
    """Irregular payments in for the self-employed and business owners."""
    r = ch.rng
    invoicing = np.isin(ch.occ, [OCC["self_employed"], OCC["business_owner"]])
    cust = ch.per_customer(invoicing, r.poisson(ch.months() * 4 * ch.activity))
    ch.add(
        cust,
        ts=ch.anytime(cust),
        amount=np.round(ch.income[cust] / 48 * r.lognormal(0, 0.6, len(cust)), 2),
        direction=IN,
        ttype=T["transfer"],
        cp_kind=CP["P"],
        cp=ch.strangers(len(cust)) % 5_000_000,
    )


def card_spend(ch: _Chunk) -> None:
    """The bulk of activity: card payments, mostly at home, sometimes abroad in dollars."""
    r = ch.rng
    cust = ch.per_customer(np.ones(ch.n, bool), r.poisson(ch.months() * 4 * ch.activity))
    m = len(cust)
    abroad = r.random(m) < 0.06
    country = np.where(abroad, r.choice([C_IDX[c] for c in TRAVEL], m), ch.home[cust])
    status = r.choice(len(STATUSES), m, p=[0.985, 0.011, 0.004, 0.0])
    ch.add(
        cust,
        ts=ch.anytime(cust),
        amount=np.round(r.lognormal(3.1, 0.9, m) * np.sqrt(ch.income[cust] / 38_000), 2),
        direction=OUT,
        ttype=T["card"],
        cp_kind=CP["M"],
        cp=r.zipf(1.3, m) % 50_000,
        country=country,
        ccy=np.where(abroad, CCY_IDX["USD"], ch.ccy[cust]),
        status=status,
    )


def bills_cash_and_transfers(ch: _Chunk) -> None:
    """Bills, ATM withdrawals (round amounts), person-to-person transfers both ways, and top-ups for those on
    low incomes."""
    r, n, months = ch.rng, ch.n, ch.months()
    everyone = np.ones(n, bool)
    cust = ch.per_customer(everyone, r.poisson(months * 1.5))
    ch.add(
        cust,
        ts=ch.anytime(cust),
        amount=np.round(r.lognormal(4.0, 0.7, len(cust)), 2),
        direction=OUT,
        ttype=T["bill"],
        cp_kind=CP["U"],
        cp=r.integers(0, 400, len(cust)),
    )
    cust = ch.per_customer(everyone, r.poisson(months * 0.7 * ch.activity))
    ch.add(
        cust,
        ts=ch.anytime(cust),
        amount=r.integers(1, 10, len(cust)) * 20.0,
        direction=OUT,
        ttype=T["withdrawal"],
        cp_kind=CP["A"],
        cp=ch.own_account(cust),
    )
    for direction in (IN, OUT):
        cust = ch.per_customer(everyone, r.poisson(months * 0.8))
        ch.add(
            cust,
            ts=ch.anytime(cust),
            amount=np.round(r.lognormal(3.8, 1.0, len(cust)), 2),
            direction=direction,
            ttype=T["transfer"],
            cp_kind=CP["P"],
            cp=ch.contacts(cust),
        )
    low = np.isin(ch.occ, [OCC["student"], OCC["unemployed"]]) | (ch.income < 15_000)
    cust = ch.per_customer(low, r.poisson(months * 2))
    ch.add(
        cust,
        ts=ch.anytime(cust),
        amount=np.round(r.lognormal(4.2, 0.6, len(cust)), -1),
        direction=IN,
        ttype=T["topup"],
        cp_kind=CP["A"],
        cp=ch.own_account(cust),
    )


EVERYDAY = (monthly_income, invoices, card_spend, bills_cash_and_transfers)


# -- benign look-alikes: behaviour that resembles a typology but is not one ----------------------------------


def remitters(ch: _Chunk) -> None:
    """A monthly transfer home, often to a corridor flagged as high-risk."""
    r = ch.rng
    cust = ch.per_customer(ch.looks_like("remitter"), ch.months())
    dest = r.choice([C_IDX[c] for c in REMITTANCE], len(cust))
    ch.add(
        cust,
        ts=ch.anytime(cust),
        amount=np.round(r.lognormal(5.5, 0.5, len(cust)), 2),
        direction=OUT,
        ttype=T["transfer"],
        cp_kind=CP["P"],
        cp=ch.contacts(cust, 2),
        country=dest,
        ccy=ch.ccy[cust],
    )


def marketplace_sellers(ch: _Chunk) -> None:
    """Many small payments in from many buyers (looks like fan-in)."""
    r = ch.rng
    cust = ch.per_customer(ch.looks_like("marketplace_seller"), r.poisson(ch.months() * 12))
    ch.add(
        cust,
        ts=ch.anytime(cust),
        amount=np.round(r.lognormal(3.5, 0.7, len(cust)), 2),
        direction=IN,
        ttype=T["transfer"],
        cp_kind=CP["P"],
        cp=ch.strangers(len(cust)),
    )


def savings_sweepers(ch: _Chunk) -> None:
    """Most of the salary leaves for their own savings account within a day (looks like pass-through)."""
    r, months = ch.rng, ch.months()
    cust = ch.per_customer(ch.looks_like("savings_sweeper"), months)
    month = r.integers(0, max(int(months.max()), 1), len(cust)) % np.maximum(months[cust], 1)
    ts = ch.start[cust] + (month * 30 + 28) * DAY
    amount = np.round(ch.income[cust] / 12 * r.uniform(0.4, 0.8, len(cust)), 2)
    ch.add(
        cust,
        ts=np.minimum(ts, ch.end - 1),
        amount=amount,
        direction=OUT,
        ttype=T["transfer"],
        cp_kind=CP["A"],
        cp=ch.own_account(cust),
    )


def crypto_investors(ch: _Chunk) -> None:
    """Regular buys on an exchange."""
    r = ch.rng
    cust = ch.per_customer(ch.looks_like("crypto_investor"), r.poisson(ch.months() * 2))
    ch.add(
        cust,
        ts=ch.anytime(cust),
        amount=np.round(r.lognormal(5.0, 0.8, len(cust)), 2),
        direction=OUT,
        ttype=T["crypto"],
        cp_kind=CP["X"],
        cp=r.integers(0, 20, len(cust)),
    )


def card_trouble(ch: _Chunk) -> None:
    """Failed card payments when the balance runs low (looks like chargeback fraud)."""
    r = ch.rng
    cust = ch.per_customer(ch.looks_like("card_trouble"), r.poisson(ch.months() * 0.8))
    ch.add(
        cust,
        ts=ch.anytime(cust),
        amount=np.round(r.lognormal(3.5, 0.8, len(cust)), 2),
        direction=OUT,
        ttype=T["card"],
        cp_kind=CP["M"],
        cp=r.integers(0, 50_000, len(cust)),
        status=ST["failed"],
    )


# 'returning' customers (dormant, then back) are made by _Chunk.quiet_periods.
LOOKALIKE_BEHAVIOURS = (remitters, marketplace_sellers, savings_sweepers, crypto_investors, card_trouble)


# -- behaviours that get accounts suspended; `intensity` scales how much of it a bad actor does -------------


def structuring(ch: _Chunk) -> None:
    """Cash deposits just under the reporting threshold."""
    r = ch.rng
    cust = ch.per_customer(ch.has("structuring"), r.poisson(4 + 22 * ch.intensity))
    lo, hi = ch.recent(cust, r.integers(60, 180, len(cust)))
    ch.add(
        cust,
        ts=ch.times(cust, lo, hi),
        amount=np.round(REPORTING_THRESHOLD * r.uniform(0.86, 0.995, len(cust)), 2),
        direction=IN,
        ttype=T["cash_deposit"],
        cp_kind=CP["A"],
        cp=ch.own_account(cust),
    )


def pass_through(ch: _Chunk) -> None:
    """Money arrives and leaves again within hours, half of it abroad (mules do it too)."""
    r, inten = ch.rng, ch.intensity
    cust = ch.per_customer(ch.has("pass_through") | ch.has("mule"), r.poisson(3 + 25 * inten))
    m = len(cust)
    lo, hi = ch.recent(cust, r.integers(45, 240, m))
    t_in = ch.times(cust, lo, hi)
    amount = np.round(r.lognormal(7.3, 0.8, m), 2)
    delay = (r.exponential(6 + 30 * (1 - inten[cust])) * HOUR).astype(np.int64)
    dest = np.where(r.random(m) < 0.5, r.choice(HIGH_RISK_IDX, m), ch.home[cust])
    ch.add(cust, ts=t_in, amount=amount, direction=IN, ttype=T["transfer"], cp_kind=CP["P"], cp=ch.strangers(m))
    ch.add(
        cust,
        ts=np.minimum(t_in + delay, ch.end - 1),
        amount=np.round(amount * r.uniform(0.88, 0.99, m), 2),
        direction=OUT,
        ttype=np.where(r.random(m) < 0.25, T["crypto"], T["transfer"]),
        cp_kind=CP["P"],
        cp=ch.strangers(m),
        country=dest,
        ccy=ch.ccy[cust],
    )


def fan_in(ch: _Chunk) -> None:
    """Many new counterparties pay in over a few weeks, then the money is moved on (mules do it too)."""
    r = ch.rng
    cust = ch.per_customer(ch.has("fan_in") | ch.has("mule"), r.poisson(10 + 70 * ch.intensity))
    lo, hi = ch.recent(cust, r.integers(20, 70, len(cust)))
    t_in = ch.times(cust, lo, hi)
    amount = np.round(r.lognormal(5.3, 0.6, len(cust)), 2)
    ch.add(cust, ts=t_in, amount=amount, direction=IN, ttype=T["transfer"], cp_kind=CP["P"], cp=ch.strangers(len(cust)))
    moved = r.random(len(cust)) < 0.3
    k = int(moved.sum())
    ch.add(
        cust[moved],
        ts=np.minimum(t_in[moved] + r.integers(1, 48, k) * HOUR, ch.end - 1),
        amount=np.round(amount[moved] * r.uniform(2.5, 3.2, k), -1),
        direction=OUT,
        ttype=np.where(r.random(k) < 0.5, T["withdrawal"], T["crypto"]),
        cp_kind=CP["X"],
        cp=r.integers(0, 20, k),
        country=ch.home[cust[moved]],
        ccy=ch.ccy[cust[moved]],
    )


def corridor(ch: _Chunk) -> None:
    """Sizeable transfers out to high-risk jurisdictions."""
    r = ch.rng
    cust = ch.per_customer(ch.has("corridor"), r.poisson(3 + 18 * ch.intensity))
    m = len(cust)
    ch.add(
        cust,
        ts=ch.anytime(cust),
        amount=np.round(r.lognormal(7.0, 0.7, m), 2),
        direction=OUT,
        ttype=T["transfer"],
        cp_kind=CP["P"],
        cp=ch.strangers(m),
        country=r.choice(HIGH_RISK_IDX, m),
        ccy=np.where(r.random(m) < 0.4, CCY_IDX["USD"], ch.ccy[cust]),
    )


def chargeback(ch: _Chunk) -> None:
    """Card payments that fail, are reversed or charged back."""
    r = ch.rng
    cust = ch.per_customer(ch.has("chargeback"), r.poisson(4 + 20 * ch.intensity))
    m = len(cust)
    ch.add(
        cust,
        ts=ch.anytime(cust),
        amount=np.round(r.lognormal(5.0, 0.9, m), 2),
        direction=OUT,
        ttype=T["card"],
        cp_kind=CP["M"],
        cp=r.integers(0, 50_000, m),
        country=ch.home[cust],
        ccy=ch.ccy[cust],
        status=r.choice([ST["failed"], ST["reversed"], ST["chargeback"]], m, p=[0.45, 0.2, 0.35]),
    )


def dormant_burst(ch: _Chunk) -> None:
    """Quiet for months (see quiet_periods), then a burst of large movements in and out."""
    r = ch.rng
    cust = ch.per_customer(ch.has("dormant_burst"), r.poisson(15 + 50 * ch.intensity))
    lo, hi = ch.recent(cust, r.integers(10, 40, len(cust)))
    ch.add(
        cust,
        ts=ch.times(cust, lo, hi),
        amount=np.round(r.lognormal(6.5, 0.9, len(cust)), 2),
        direction=r.integers(IN, OUT + 1, len(cust)),
        ttype=T["transfer"],
        cp_kind=CP["P"],
        cp=ch.strangers(len(cust)),
    )


def mule_cash_out(ch: _Chunk) -> None:
    """Mules also cash out fast at ATMs."""
    r = ch.rng
    cust = ch.per_customer(ch.has("mule"), r.poisson(5 + 15 * ch.intensity))
    lo, hi = ch.recent(cust, r.integers(20, 60, len(cust)))
    ch.add(
        cust,
        ts=ch.times(cust, lo, hi),
        amount=r.integers(10, 50, len(cust)) * 20.0,
        direction=OUT,
        ttype=T["withdrawal"],
        cp_kind=CP["A"],
        cp=ch.own_account(cust),
    )


TYPOLOGY_BEHAVIOURS = (structuring, pass_through, fan_in, corridor, chargeback, dormant_burst, mule_cash_out)


def _rank_within(cust: np.ndarray, n: int) -> np.ndarray:
    """0, 1, 2, ... within each run of equal customer indices (cust is sorted by construction)."""
    counts = np.bincount(cust, minlength=n)
    starts = np.cumsum(counts) - counts
    return np.arange(len(cust)) - np.repeat(starts, counts)


def _customers_table(ch: _Chunk, prefix: str, labelled: bool) -> pa.Table:
    ids = pc.binary_join_element_wise(prefix, pc.cast(pa.array(ch.offset + np.arange(ch.n)), pa.string()), "")
    cols: dict[str, pa.Array] = {
        "customer_id": ids,
        "signup_ts": pa.array(ch.signup, pa.timestamp("us", tz="UTC")),
    }
    if labelled:
        cols["account_state"] = pa.array(np.where(ch.suspended, LABEL_SUSPENDED, LABEL_ACTIVE))
    cols |= {
        "age": pa.array(ch.age.astype(np.int64)),
        "country": pa.array(np.array(HOME)[ch.home]),
        "occupation": pa.array(np.array(OCCUPATIONS)[ch.occ]),
        "declared_income": pa.array(ch.income),
        "kyc_level": pa.array(np.array(KYC)[ch.kyc]),
        "signup_channel": pa.array(np.array(CHANNELS)[ch.channel]),
        "device_ip_mismatch": pa.array(ch.mismatch),
    }
    return pa.table(cols)


def _transactions_table(ch: _Chunk, tx: dict[str, np.ndarray], prefix: str, first_id: int) -> pa.Table:
    order = np.lexsort((tx["ts"], tx["cust"]))
    tx = {k: v[order] for k, v in tx.items()}
    m = len(order)
    ids = pc.binary_join_element_wise("T", pc.cast(pa.array(np.arange(first_id, first_id + m)), pa.string()), "")
    cust = pc.binary_join_element_wise(
        prefix, pc.cast(pa.array(ch.offset + tx["cust"].astype(np.int64)), pa.string()), ""
    )
    cp = pc.binary_join_element_wise(
        pc.take(pa.array(CP_KINDS), pa.array(tx["cpk"])), pc.cast(pa.array(tx["cpn"]), pa.string()), ""
    )
    return pa.table(
        {
            "transaction_id": ids,
            "customer_id": cust,
            "ts": pa.array(tx["ts"], pa.timestamp("us", tz="UTC")),
            "amount": pa.array(tx["amount"]),
            "currency": pc.take(pa.array(CURRENCIES), pa.array(tx["ccy"])),
            "direction": pc.take(pa.array(["in", "out"]), pa.array(tx["dir"])),
            "type": pc.take(pa.array(TYPES), pa.array(tx["type"])),
            "counterparty_id": cp,
            "country": pc.take(pa.array(COUNTRIES), pa.array(tx["country"])),
            "status": pc.take(pa.array(STATUSES), pa.array(tx["status"])),
        }
    )


def _make_chunk(
    rng: np.random.Generator, n: int, offset: int, cutoff_us: int, prefix: str, labelled: bool, first_id: int
) -> tuple[_Chunk, pa.Table, pa.Table]:
    """One chunk's customers and transactions: every behaviour, in a fixed order (the RNG stream depends on it)."""
    ch = _Chunk(rng, n, offset, cutoff_us)
    for behaviour in (*EVERYDAY, *LOOKALIKE_BEHAVIOURS, *TYPOLOGY_BEHAVIOURS):
        behaviour(ch)
    tx = ch.tx.arrays()
    keep = ch.quiet_periods(tx)
    tx = {k: v[keep] for k, v in tx.items()}
    return ch, _customers_table(ch, prefix, labelled), _transactions_table(ch, tx, prefix, first_id)


def _truth_table(ch: _Chunk, customers: pa.Table) -> pa.Table:
    """Who is a bad actor, with which typologies: for analysis only, never read by a loader."""
    return pa.table(
        {
            "customer_id": customers.column("customer_id"),
            "bad_actor": pa.array(ch.bad),
            "typologies": pa.array(["+".join(TYPOLOGIES[j] for j in np.flatnonzero(row)) for row in ch.typo]),
            "suspended": pa.array(ch.suspended),
        }
    )


def generate(
    out: Path,
    customers: int = DEFAULT_CUSTOMERS,
    seed: int = 42,
    as_of: date = DEFAULT_AS_OF,
    unlabelled_share: float = 0.2,
    chunk_size: int = 5_000,
    tick: Tick | None = None,
) -> GenerateSummary:
    """Write `labelled/` and `unlabelled/` cohorts (customers + transactions Parquet) and manifest.json."""
    if customers < 2:
        raise ValueError("--customers must be at least 2")
    started = time.perf_counter()
    cutoff_us = int(as_of_cutoff(as_of).timestamp() * 1_000_000)
    n_unl = round(customers * unlabelled_share)
    plan = {"labelled": customers - n_unl, "unlabelled": n_unl}
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    counts = {"labelled": 0, "unlabelled": 0}
    suspended = 0
    truth: list[pa.Table] = []
    files: list[str] = []
    next_id = 0
    done = 0
    for cohort, total in plan.items():
        prefix = "C" if cohort == "labelled" else "U"
        (tmp / cohort / "customers").mkdir(parents=True, exist_ok=True)
        (tmp / cohort / "transactions").mkdir(parents=True, exist_ok=True)
        for part, offset in enumerate(range(0, total, chunk_size)):
            n = min(chunk_size, total - offset)
            rng = np.random.default_rng([seed, 0 if cohort == "labelled" else 1, part])
            ch, ct, tt = _make_chunk(rng, n, offset, cutoff_us, prefix, cohort == "labelled", next_id)
            next_id += tt.num_rows
            counts[cohort] += tt.num_rows
            if cohort == "labelled":
                suspended += int(ch.suspended.sum())
            for sub, table in (("customers", ct), ("transactions", tt)):
                path = tmp / cohort / sub / f"part-{part:05d}.parquet"
                pq.write_table(table, path, compression="zstd")
                files.append(str(path.relative_to(tmp)))
            truth.append(_truth_table(ch, ct))
            done += n
            if tick:
                tick(cohort, done, customers)
    # Hidden truth (typologies per customer) for analysis only; loaders never read it.
    pq.write_table(pa.concat_tables(truth), tmp / "truth.parquet")
    seconds = time.perf_counter() - started
    total_tx = sum(counts.values())
    summary = GenerateSummary(
        out=str(out),
        seed=seed,
        as_of=as_of.isoformat(),
        customers=plan,
        transactions=counts,
        suspended_share=round(suspended / max(plan["labelled"], 1), 4),
        seconds=round(seconds, 2),
        transactions_per_second=round(total_tx / seconds) if seconds else 0.0,
        files=files,
    )
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "created": datetime.now(UTC).isoformat(),
        **summary.__dict__,
    }
    manifest.pop("files")
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return summary


def synthetic_attribute_kinds() -> dict[str, str]:
    """The customer attributes this generator writes, as the feature set classifies them."""
    return {
        "age": "numeric",
        "country": "categorical",
        "occupation": "categorical",
        "declared_income": "numeric",
        "kyc_level": "categorical",
        "signup_channel": "categorical",
        "device_ip_mismatch": "categorical",
    }
