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


class _Tx:
    """Columnar buffer of one chunk's transactions (codes, not strings, until written)."""

    def __init__(self) -> None:
        self.cols: dict[str, list[np.ndarray]] = {
            k: [] for k in ("cust", "ts", "amount", "dir", "type", "cpk", "cpn", "country", "status", "ccy")
        }

    def add(
        self,
        cust: np.ndarray,
        ts: np.ndarray,
        amount: np.ndarray,
        direction: int | np.ndarray,
        ttype: int | np.ndarray,
        cpk: int | np.ndarray,
        cpn: np.ndarray,
        country: int | np.ndarray,
        ccy: int | np.ndarray,
        status: int | np.ndarray = 0,
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
            ("cpk", cpk, np.int8),
            ("cpn", cpn, np.int64),
            ("country", country, np.int8),
            ("status", status, np.int8),
            ("ccy", ccy, np.int8),
        ):
            arr = np.asarray(value)
            self.cols[key].append(np.broadcast_to(arr, (n,)).astype(dtype, copy=False))

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v) if v else np.array([]) for k, v in self.cols.items()}


class _Chunk:
    """Customers [offset, offset+n) of one cohort and everything generated for them."""

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

        # Hidden propensity: attributes tilt it, never decide it.
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

        # Not every bad actor gets caught; a few good customers are off-boarded for other reasons.
        p_susp = np.where(
            self.bad,
            0.2 + 0.6 * self.intensity,
            0.004 + 0.01 * self.mismatch + 0.012 * self.look.any(axis=1),
        )
        self.suspended = r.random(n) < p_susp
        self.tx = _Tx()

    # -- helpers ---------------------------------------------------------------------------------------
    def times(self, cust: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        r, m = self.rng, len(cust)
        t = lo + (r.random(m) * np.maximum(hi - lo, DAY)).astype(np.int64)
        day = t - t % DAY
        night = r.random(m) < self.night[cust]
        hour = np.where(night, r.uniform(0, 6, m), r.uniform(6.5, 23.5, m))
        ts = day + (hour * 3_600_000_000).astype(np.int64)
        return np.clip(ts, self.start[cust], self.end - 1)

    def anytime(self, cust: np.ndarray) -> np.ndarray:
        """Times anywhere in each customer's history."""
        return self.times(cust, self.start[cust], np.full(len(cust), self.end))

    def add(
        self,
        cust: np.ndarray,
        ts: np.ndarray,
        amount: np.ndarray,
        direction: int | np.ndarray,
        ttype: int | np.ndarray,
        cpk: int | np.ndarray,
        cpn: np.ndarray,
        country: int | np.ndarray | None = None,
        ccy: int | np.ndarray | None = None,
        status: int | np.ndarray = 0,
    ) -> None:
        """Add transactions; country and currency default to the customer's home."""
        home = self.home[cust] if country is None else country
        self.tx.add(cust, ts, amount, direction, ttype, cpk, cpn, home, self.ccy[cust] if ccy is None else ccy, status)

    def per_customer(self, mask: np.ndarray, counts: np.ndarray) -> np.ndarray:
        counts = np.where(mask, np.maximum(counts, 0), 0).astype(np.int64)
        return np.repeat(np.arange(self.n), counts)

    def months(self) -> np.ndarray:
        return (self.end - self.start) // (30 * DAY)

    def strangers(self, m: int) -> np.ndarray:
        return self.rng.integers(10**8, 10**9, m)

    def contacts(self, cust: np.ndarray, pool: int = 8) -> np.ndarray:
        return (self.offset + cust) * 16 + self.rng.integers(0, pool, len(cust))

    def recent(self, cust: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo = np.maximum(self.end - days * DAY, self.start[cust])
        return lo, np.full(len(cust), self.end)

    # -- everyday life ---------------------------------------------------------------------------------
    def baseline(self) -> None:
        r, n = self.rng, self.n
        months = self.months()
        occ = self.occ
        # Monthly income: salary, pension, benefits, allowance (as a transfer from a family contact).
        monthly = np.isin(occ, [0, 2, 3, 5])
        cust = self.per_customer(monthly, months)
        k = _rank_within(cust, n)
        ts = (
            self.start[cust]
            + (k * 30 + r.integers(25, 29, len(cust))) * DAY
            + r.integers(6, 10, len(cust)) * 3_600_000_000
        )
        ts = np.minimum(ts, self.end - 1)
        o = occ[cust]
        typ = np.select([o == 0, o == 3, o == 5], [T["salary"], T["pension"], T["benefit"]], T["transfer"])
        amt = np.round(self.income[cust] / 12 * r.normal(1, 0.03, len(cust)), 2)
        cpk = np.where(occ[cust] == 2, CP["P"], CP["E"])
        cpn = np.where(occ[cust] == 2, (self.offset + cust) * 16, (self.offset + cust) // 40)
        self.add(cust, ts, amt, 0, typ, cpk, cpn, self.home[cust], self.ccy[cust])
        # Irregular invoices for the self-employed and business owners.
        inv = np.isin(occ, [1, 4])
        cust = self.per_customer(inv, r.poisson(months * 4 * self.activity))
        self.add(
            cust,
            self.anytime(cust),
            np.round(self.income[cust] / 48 * r.lognormal(0, 0.6, len(cust)), 2),
            0,
            T["transfer"],
            CP["P"],
            self.strangers(len(cust)) % 5_000_000,
        )
        # Card spend: the bulk of activity, mostly at home, sometimes abroad.
        cust = self.per_customer(np.ones(n, bool), r.poisson(months * 4 * self.activity))
        m = len(cust)
        abroad = r.random(m) < 0.06
        country = np.where(abroad, r.choice([C_IDX[c] for c in TRAVEL], m), self.home[cust])
        status = r.choice(4, m, p=[0.985, 0.011, 0.004, 0.0])
        self.add(
            cust,
            self.anytime(cust),
            np.round(r.lognormal(3.1, 0.9, m) * np.sqrt(self.income[cust] / 38_000), 2),
            1,
            T["card"],
            CP["M"],
            r.zipf(1.3, m) % 50_000,
            country,
            np.where(abroad, CCY_IDX["USD"], self.ccy[cust]),
            status,
        )
        # Bills, ATM withdrawals (round amounts), person-to-person transfers, top-ups.
        cust = self.per_customer(np.ones(n, bool), r.poisson(months * 1.5))
        self.add(
            cust,
            self.anytime(cust),
            np.round(r.lognormal(4.0, 0.7, len(cust)), 2),
            1,
            T["bill"],
            CP["U"],
            r.integers(0, 400, len(cust)),
        )
        cust = self.per_customer(np.ones(n, bool), r.poisson(months * 0.7 * self.activity))
        self.add(
            cust,
            self.anytime(cust),
            r.integers(1, 10, len(cust)) * 20.0,
            1,
            T["withdrawal"],
            CP["A"],
            self.offset + cust,
        )
        for direction in (0, 1):
            cust = self.per_customer(np.ones(n, bool), r.poisson(months * 0.8))
            self.add(
                cust,
                self.anytime(cust),
                np.round(r.lognormal(3.8, 1.0, len(cust)), 2),
                direction,
                T["transfer"],
                CP["P"],
                self.contacts(cust),
            )
        low = np.isin(occ, [2, 5]) | (self.income < 15_000)
        cust = self.per_customer(low, r.poisson(months * 2))
        self.add(
            cust,
            self.anytime(cust),
            np.round(r.lognormal(4.2, 0.6, len(cust)), -1),
            0,
            T["topup"],
            CP["A"],
            self.offset + cust,
        )

    # -- benign look-alikes ------------------------------------------------------------------------------
    def lookalikes(self) -> None:
        r, months = self.rng, self.months()
        lk = {name: self.look[:, i] for i, name in enumerate(LOOKALIKES)}
        # Remitters: a monthly transfer home, often to a corridor flagged as high-risk.
        cust = self.per_customer(lk["remitter"], months)
        dest = r.choice([C_IDX[c] for c in REMITTANCE], len(cust))
        self.add(
            cust,
            self.anytime(cust),
            np.round(r.lognormal(5.5, 0.5, len(cust)), 2),
            1,
            T["transfer"],
            CP["P"],
            self.contacts(cust, 2),
            dest,
            self.ccy[cust],
        )
        # Marketplace sellers: many small payments in from many buyers.
        cust = self.per_customer(lk["marketplace_seller"], r.poisson(months * 12))
        self.add(
            cust,
            self.anytime(cust),
            np.round(r.lognormal(3.5, 0.7, len(cust)), 2),
            0,
            T["transfer"],
            CP["P"],
            self.strangers(len(cust)),
        )
        # Savings sweepers: most of the salary leaves for their own savings account within a day.
        cust = self.per_customer(lk["savings_sweeper"], months)
        ts = (
            self.start[cust]
            + (r.integers(0, max(int(months.max()), 1), len(cust)) % np.maximum(months[cust], 1) * 30 + 28) * DAY
        )
        self.add(
            cust,
            np.minimum(ts, self.end - 1),
            np.round(self.income[cust] / 12 * r.uniform(0.4, 0.8, len(cust)), 2),
            1,
            T["transfer"],
            CP["A"],
            self.offset + cust,
        )
        # Crypto investors: regular buys on an exchange.
        cust = self.per_customer(lk["crypto_investor"], r.poisson(months * 2))
        self.add(
            cust,
            self.anytime(cust),
            np.round(r.lognormal(5.0, 0.8, len(cust)), 2),
            1,
            T["crypto"],
            CP["X"],
            r.integers(0, 20, len(cust)),
        )
        # Card trouble: failed payments when the balance runs low.
        cust = self.per_customer(lk["card_trouble"], r.poisson(months * 0.8))
        self.add(
            cust,
            self.anytime(cust),
            np.round(r.lognormal(3.5, 0.8, len(cust)), 2),
            1,
            T["card"],
            CP["M"],
            r.integers(0, 50_000, len(cust)),
            status=1,
        )

    # -- behaviours that get accounts suspended ----------------------------------------------------------
    def typologies(self) -> None:
        r = self.rng
        ty = {name: self.typo[:, i] for i, name in enumerate(TYPOLOGIES)}
        inten = self.intensity

        # Structuring: cash deposits just under the reporting threshold.
        cust = self.per_customer(ty["structuring"], r.poisson(4 + 22 * inten))
        lo, hi = self.recent(cust, r.integers(60, 180, len(cust)))
        self.add(
            cust,
            self.times(cust, lo, hi),
            np.round(REPORTING_THRESHOLD * r.uniform(0.86, 0.995, len(cust)), 2),
            0,
            T["cash_deposit"],
            CP["A"],
            self.offset + cust,
        )

        # Pass-through: money arrives and leaves again within hours, mostly abroad.
        cust = self.per_customer(ty["pass_through"] | ty["mule"], r.poisson(3 + 25 * inten))
        lo, hi = self.recent(cust, r.integers(45, 240, len(cust)))
        t_in = self.times(cust, lo, hi)
        amt = np.round(r.lognormal(7.3, 0.8, len(cust)), 2)
        delay = (r.exponential(6 + 30 * (1 - inten[cust])) * 3_600_000_000).astype(np.int64)
        dest = np.where(r.random(len(cust)) < 0.5, r.choice(HIGH_RISK_IDX, len(cust)), self.home[cust])
        self.add(
            cust,
            t_in,
            amt,
            0,
            T["transfer"],
            CP["P"],
            self.strangers(len(cust)),
        )
        self.add(
            cust,
            np.minimum(t_in + delay, self.end - 1),
            np.round(amt * r.uniform(0.88, 0.99, len(cust)), 2),
            1,
            np.where(r.random(len(cust)) < 0.25, T["crypto"], T["transfer"]),
            CP["P"],
            self.strangers(len(cust)),
            dest,
            self.ccy[cust],
        )

        # Fan-in: many new counterparties pay in over a few weeks, then the money is moved on.
        cust = self.per_customer(ty["fan_in"] | ty["mule"], r.poisson(10 + 70 * inten))
        lo, hi = self.recent(cust, r.integers(20, 70, len(cust)))
        t_in = self.times(cust, lo, hi)
        amt = np.round(r.lognormal(5.3, 0.6, len(cust)), 2)
        self.add(
            cust,
            t_in,
            amt,
            0,
            T["transfer"],
            CP["P"],
            self.strangers(len(cust)),
        )
        out = r.random(len(cust)) < 0.3
        self.add(
            cust[out],
            np.minimum(t_in[out] + r.integers(1, 48, out.sum()) * 3_600_000_000, self.end - 1),
            np.round(amt[out] * r.uniform(2.5, 3.2, out.sum()), -1),
            1,
            np.where(r.random(out.sum()) < 0.5, T["withdrawal"], T["crypto"]),
            CP["X"],
            r.integers(0, 20, out.sum()),
            self.home[cust[out]],
            self.ccy[cust[out]],
        )

        # High-risk corridors: sizeable transfers out to high-risk jurisdictions.
        cust = self.per_customer(ty["corridor"], r.poisson(3 + 18 * inten))
        self.add(
            cust,
            self.anytime(cust),
            np.round(r.lognormal(7.0, 0.7, len(cust)), 2),
            1,
            T["transfer"],
            CP["P"],
            self.strangers(len(cust)),
            r.choice(HIGH_RISK_IDX, len(cust)),
            np.where(r.random(len(cust)) < 0.4, CCY_IDX["USD"], self.ccy[cust]),
        )

        # Chargebacks and failed payments.
        cust = self.per_customer(ty["chargeback"], r.poisson(4 + 20 * inten))
        self.add(
            cust,
            self.anytime(cust),
            np.round(r.lognormal(5.0, 0.9, len(cust)), 2),
            1,
            T["card"],
            CP["M"],
            r.integers(0, 50_000, len(cust)),
            self.home[cust],
            self.ccy[cust],
            r.choice([1, 2, 3], len(cust), p=[0.45, 0.2, 0.35]),
        )

        # Dormant then burst: quiet for months, then a burst of large movements in and out.
        cust = self.per_customer(ty["dormant_burst"], r.poisson(15 + 50 * inten))
        lo, hi = self.recent(cust, r.integers(10, 40, len(cust)))
        self.add(
            cust,
            self.times(cust, lo, hi),
            np.round(r.lognormal(6.5, 0.9, len(cust)), 2),
            r.integers(0, 2, len(cust)),
            T["transfer"],
            CP["P"],
            self.strangers(len(cust)),
        )

        # Mules also cash out fast at ATMs.
        cust = self.per_customer(ty["mule"], r.poisson(5 + 15 * inten))
        lo, hi = self.recent(cust, r.integers(20, 60, len(cust)))
        self.add(
            cust,
            self.times(cust, lo, hi),
            r.integers(10, 50, len(cust)) * 20.0,
            1,
            T["withdrawal"],
            CP["A"],
            self.offset + cust,
        )

    def quiet_periods(self, tx: dict[str, np.ndarray]) -> np.ndarray:
        """Mask out everyday activity during dormancy (dormant_burst typology and 'returning' look-alikes)."""
        r = self.rng
        dormant = self.typo[:, TYPOLOGIES.index("dormant_burst")] | self.look[:, LOOKALIKES.index("returning")]
        gap = np.where(dormant, r.integers(90, 200, self.n), 0) * DAY
        resume = (
            self.end - np.where(self.typo[:, TYPOLOGIES.index("dormant_burst")], 45, r.integers(20, 60, self.n)) * DAY
        )
        c = tx["cust"]
        return ~(dormant[c] & (tx["ts"] >= resume[c] - gap[c]) & (tx["ts"] < resume[c]))


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
            ch = _Chunk(rng, n, offset, cutoff_us)
            ch.baseline()
            ch.lookalikes()
            ch.typologies()
            tx = ch.tx.arrays()
            keep = ch.quiet_periods(tx)
            tx = {k: v[keep] for k, v in tx.items()}
            ct = _customers_table(ch, prefix, cohort == "labelled")
            tt = _transactions_table(ch, tx, prefix, next_id)
            next_id += tt.num_rows
            counts[cohort] += tt.num_rows
            if cohort == "labelled":
                suspended += int(ch.suspended.sum())
            for sub, table in (("customers", ct), ("transactions", tt)):
                path = tmp / cohort / sub / f"part-{part:05d}.parquet"
                pq.write_table(table, path, compression="zstd")
                files.append(str(path.relative_to(tmp)))
            truth.append(
                pa.table(
                    {
                        "customer_id": ct.column("customer_id"),
                        "bad_actor": pa.array(ch.bad),
                        "typologies": pa.array(
                            ["+".join(TYPOLOGIES[j] for j in np.flatnonzero(row)) for row in ch.typo]
                        ),
                        "suspended": pa.array(ch.suspended),
                    }
                )
            )
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
