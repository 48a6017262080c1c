"""Per-customer behaviour features, defined once and run in two places.

The feature list is generated from a small spec (`FeatureConfig`): amount statistics by direction and
window, activity by type, ratios, velocity, recency, diversity, risk shares, pass-through and the
customer's own attributes. `feature_sql` turns it into one BigQuery-dialect query that runs in the
warehouse (only one row per customer leaves it); `online_features` computes the same vector from a raw
payload in numpy for the scoring service. `tests/unit/test_features.py` proves they agree column by column.

Time is handled in integer microseconds before the cut-off (`age_us`), so both executors bucket
transactions identically: a transaction is in the w-day window when `age_us < w days`.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, Field

from riskops.core.errors import DataContractError
from riskops.core.names import ident, literal
from riskops.data.contract import HIGH_RISK_COUNTRIES, LABEL_SUSPENDED, table_name

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
STATS = ("count", "sum", "mean", "min", "max", "std")
CONTRACT_CUSTOMER_COLUMNS = {"customer_id", "signup_ts", "account_state"}
ID_COLUMN = "customer_id"
LABEL_COLUMN = "label"


THRESHOLD_CURRENCY = "EUR"  # what the default reporting threshold and micro-transfer amount are in


class FeatureConfig(BaseModel):
    """What the feature generator produces; the defaults suit a retail fintech book."""

    windows: tuple[int, ...] = (7, 30, 90, 365)
    types: tuple[str, ...] = ("card", "transfer", "withdrawal", "cash_deposit", "crypto", "topup", "salary", "bill")
    type_windows: tuple[int, ...] = (30, 365)
    high_risk_countries: tuple[str, ...] = HIGH_RISK_COUNTRIES
    reporting_threshold: float = Field(default=10_000.0, gt=0, description="amounts in [0.85, 1) x this are near it")
    small_amount: float = Field(default=10.0, gt=0, description="amounts below this are micro-transfers (probing)")
    threshold_currency: str | None = Field(
        default=None, description="the currency of reporting_threshold and small_amount, set by `adapt`: a book in "
        "another one gets no near-threshold or micro-transfer features (10,000 of its currency is no reporting "
        "threshold); None (a model trained before it was recorded): they are built whatever the currency"
    )  # fmt: skip
    night_end_hour: int = Field(default=6, ge=1, le=12, description="00:00 until this hour (UTC) is night")
    income_attribute: str = "declared_income"
    attribute_words: dict[str, str] = Field(default_factory=dict, description="attribute -> its meaning in words, "
                                            "from the mapping's `descriptions`; reasons use it")  # fmt: skip
    currency: str | None = Field(
        default=None, description="the book's main currency (most transactions), read off the labelled cohort; rules "
        "whose thresholds are in another one are skipped"
    )  # fmt: skip
    long_window: int = 365
    recent_window: int = 30
    pass_through_window: int = 90
    protected: tuple[str, ...] = Field(
        default=(), description="customer attributes the mapping declares protected: never features (fairness only)"
    )
    label_words: dict[str, str] = Field(
        default_factory=dict, description="the mapping's words for the outcome labels (how reports name them)"
    )
    allowed_protected: dict[str, str] = Field(
        default_factory=dict, description="protected attributes the policy lets the model use -> the justification"
    )
    omit: tuple[str, ...] = Field(
        default=(), description="generated features that had one value (or none) over the labelled cohort when the "
        "book was adapted: not output (still computed where another feature is made from them)"
    )  # fmt: skip

    @property
    def amount_thresholds_apply(self) -> bool:
        """Whether the reporting threshold and the micro-transfer amount mean what they say in this book."""
        return None in (self.currency, self.threshold_currency) or self.currency == self.threshold_currency


@dataclass(frozen=True)
class Feature:
    name: str
    group: str
    definition: str
    window: int | None = None
    kind: Literal["numeric", "categorical"] = "numeric"
    money: bool = False  # an amount in the book's currency (a sum, mean, extreme or spread of amounts)


# -- per-transaction filters: (SQL over the CTE `t`, numpy over the Tx arrays) -----------------------------


@dataclass
class Tx:
    """One customer's (or many customers') transactions as arrays, the online executor's input."""

    age_us: np.ndarray  # int64 microseconds before the cut-off, > 0
    amount: np.ndarray
    out: np.ndarray  # bool: direction == 'out'
    type: np.ndarray  # object (str | None)
    counterparty: np.ndarray  # object
    country: np.ndarray  # object
    status: np.ndarray  # object
    ts_us: np.ndarray  # absolute micros, for the hour of day
    memo: dict[Any, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def day(self) -> np.ndarray:
        return self.age_us // DAY_US

    def once(self, key: Any, compute: Callable[[Tx], np.ndarray]) -> np.ndarray:
        """`compute(self)`, evaluated once per key: the numpy twin of the SQL flags (one flag, e.g. the 30-day
        window, is part of many filters)."""
        value = self.memo.get(key)
        if value is None:
            value = self.memo[key] = compute(self)
        return value


@dataclass(frozen=True)
class Cond:
    sql: str
    np: Callable[[Tx], np.ndarray]


def _win(w: int) -> Cond:
    return Cond(f"age_us < {w * DAY_US}", lambda t: t.age_us < w * DAY_US)


def _dir(d: str) -> Cond:
    return Cond(f"direction = '{d}'", (lambda t: t.out) if d == "out" else (lambda t: ~t.out))


def type_slug(name: str) -> str:
    """A transaction type as it appears in feature names: ASCII lower case (Überweisung -> uberweisung,
    'Card Payment' -> card_payment); a name with no Latin letter gets a short digest. The data's own value is
    what the features compare with, and what reasons say."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "_", plain).strip("_")[:30]
    if not slug or not slug[0].isalpha():
        slug = f"t{hashlib.sha256(name.encode()).hexdigest()[:8]}" + (f"_{slug}" if slug else "")
    return slug


def _type(name: str) -> Cond:
    return Cond(f"type = {literal(name)}", lambda t: t.type == name)


def _in(column: str, values: Sequence[str]) -> Cond:
    sql_values = ", ".join(literal(v) for v in values)
    return Cond(f"{column} IN ({sql_values})", lambda t: np.isin(getattr(t, column), list(values)))


def _said(code: str) -> str:
    """A direction or transaction type as a reason says it to a person: no code font, no underscores."""
    return {"in": "incoming", "out": "outgoing"}.get(code, code.replace("_", " "))


def _and(*conds: Cond) -> Cond:
    return Cond(" AND ".join(c.sql for c in conds), lambda t: np.logical_and.reduce([c.np(t) for c in conds]))


# -- aggregate helpers: SQL text and numpy result with the same NULL rules ------------------------------------


def _agg_sql(stat: str, cond: Cond) -> str:
    c = cond.sql
    return {
        "count": f"CAST(COUNTIF({c}) AS INT64)",  # DuckDB's COUNTIF is a 128-bit integer: Decimals in pandas
        "sum": f"COALESCE(SUM(IF({c}, amount, NULL)), 0)",
        "mean": f"AVG(IF({c}, amount, NULL))",
        "min": f"MIN(IF({c}, amount, NULL))",
        "max": f"MAX(IF({c}, amount, NULL))",
        "std": f"STDDEV_SAMP(IF({c}, amount, NULL))",
    }[stat]


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


# -- the spec ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TxFeature:
    """A feature aggregated straight from transactions: a statistic of the amounts that pass a filter."""

    feature: Feature
    sql: str
    cond: Cond
    stat: str


@dataclass(frozen=True)
class _Derived:
    """A feature computed from other features (ratios, shares)."""

    feature: Feature
    sql: str  # over the joined per-customer columns
    np: Callable[[dict[str, Any]], float | None]


@dataclass(frozen=True)
class _Special:
    """A feature from the per-day and per-counterparty summaries (velocity, pass-through, diversity, recency),
    declared once: `sql` reads the summary CTEs of `feature_sql` (`{cut}` is the cut-off in micros), `np` reads
    the same summaries computed online (`_summaries`), keyed by the same column names."""

    feature: Feature
    sql: str
    np: Callable[[dict[str, Any]], float | None]


def _zero_if_null(column: str) -> tuple[str, Callable[[dict[str, Any]], float | None]]:
    return f"COALESCE({column}, 0)", lambda s: float(s[column] or 0)


def _ratio_of(num: str, den: str) -> tuple[str, Callable[[dict[str, Any]], float | None]]:
    return f"SAFE_DIVIDE({num}, {den})", lambda s: _div(s[num], s[den])


def _days(column: str) -> tuple[str, Callable[[dict[str, Any]], float | None]]:
    return f"{column} / {DAY_US}.0", lambda s: None if s[column] is None else s[column] / DAY_US


def _specials(c: FeatureConfig) -> list[_Special]:
    L, R, P = c.long_window, c.recent_window, c.pass_through_window
    spec = [
        (f"active_days_{P}d", "velocity", f"days with at least one transaction, last {P} days", P,
         _zero_if_null("d.active_days")),
        (f"tx_per_active_day_{P}d", "velocity", "transactions per active day", P, _ratio_of("d.n_tx", "d.active_days")),
        (f"max_tx_per_day_{P}d", "velocity", "most transactions on one day", P, _zero_if_null("d.max_n")),
        (f"max_in_per_day_{P}d", "velocity", "most money in on one day", P, _zero_if_null("d.max_in")),
        (f"max_out_per_day_{P}d", "velocity", "most money out on one day", P, _zero_if_null("d.max_out")),
        (f"pass_through_2d_{P}d", "pass_through", "share of money in that leaves the same or the next day: sum over "
         "days of min(in that day, out that day + out the next day) / money in", P,
         _ratio_of("d.passed", "d.received")),
        (f"counterparties_{R}d", "diversity", f"distinct counterparties, last {R} days", R,
         _zero_if_null("cpa.cp_recent")),
        (f"counterparties_{L}d", "diversity", f"distinct counterparties, last {L} days", L,
         _zero_if_null("cpa.cp_long")),
        (f"new_counterparties_{R}d", "diversity", f"counterparties first seen in the last {R} days", R,
         _zero_if_null("cpa.cp_new")),
        (f"senders_{L}d", "diversity", f"distinct counterparties sending money in, last {L} days", L,
         _zero_if_null("cpa.senders")),
        (f"receivers_{L}d", "diversity", f"distinct counterparties receiving money, last {L} days", L,
         _zero_if_null("cpa.receivers")),
        (f"countries_{L}d", "diversity", f"distinct counterparty countries, last {L} days", L,
         _zero_if_null("a._countries")),
        ("days_since_first_tx", "recency", "days from the first transaction to the cut-off", None,
         _days("a._first_age")),
        ("days_since_last_tx", "recency", "days from the last transaction to the cut-off", None, _days("a._last_age")),
        ("days_since_last_in", "recency", "days from the last money in to the cut-off", None, _days("a._last_in_age")),
        ("days_since_last_out", "recency", "days from the last money out to the cut-off", None,
         _days("a._last_out_age")),
        ("tenure_days", "recency", "days from signup to the cut-off", None,
         ("({cut} - UNIX_MICROS(c.signup_ts)) / " + f"{DAY_US}.0", lambda s: s["tenure_us"] / DAY_US)),
    ]  # fmt: skip
    money = {f"max_in_per_day_{P}d", f"max_out_per_day_{P}d"}
    return [_Special(Feature(name, group, words, window, money=name in money), sql, np)
            for name, group, words, window, (sql, np) in spec]  # fmt: skip


class FeatureSet:
    """The generated feature list for a config and a set of customer attributes."""

    def __init__(self, config: FeatureConfig, attributes: dict[str, str]) -> None:
        self.config = config
        # name -> "numeric" | "categorical"; a protected attribute is no feature, nor input to one
        self.attributes = {n: k for n, k in attributes.items() if n not in set(config.protected)}
        self.tx: list[_TxFeature] = []
        self.derived: list[_Derived] = []
        self.flags: dict[str, str] = {}  # per-row boolean column -> its SQL over the transaction columns
        self.specials = _specials(config)
        self._build()
        # The distinct filters of the transaction aggregates (each evaluated once per call of _tx_aggregates).
        self._tx_conds = list({f.cond.sql: f.cond for f in self.tx}.values())
        self._tx_row = {c.sql: i for i, c in enumerate(self._tx_conds)}

    def _flag(self, name: str, cond: Cond) -> Cond:
        """Evaluate `cond` once per transaction as a boolean column; aggregates then combine flags (measured:
        re-evaluating string comparisons inside ~110 aggregates was most of the feature query's time)."""
        name = re.sub(r"\W", "_", name)
        self.flags[name] = cond.sql
        return Cond(name, lambda t: t.once(name, cond.np))

    def _add(self, name: str, group: str, definition: str, cond: Cond, stat: str, window: int | None) -> None:
        feature = Feature(name, group, definition, window, money=stat != "count")
        self.tx.append(_TxFeature(feature, _agg_sql(stat, cond), cond, stat))

    def _ratio(self, name: str, group: str, definition: str, num: str, den: str, scale: float = 1.0) -> None:
        sql = f"SAFE_DIVIDE({num} * {literal(scale)}, {den})" if scale != 1.0 else f"SAFE_DIVIDE({num}, {den})"

        def compute(v: dict[str, Any], num: str = num, den: str = den, scale: float = scale) -> float | None:
            a = v[num]
            return _div(None if a is None else a * scale, v[den])

        self.derived.append(_Derived(Feature(name, group, definition), sql, compute))

    def _build(self) -> None:
        c = self.config
        win = {w: self._flag(f"w{w}", _win(w)) for w in sorted({*c.windows, *c.type_windows, *self._lrp})}
        direction = {d: self._flag(f"is_{d}", _dir(d)) for d in ("in", "out")}
        self._amounts_and_types(win, direction)
        shares = self._risk_aggregates(win, direction)
        self._ratios(shares)

    @property
    def _lrp(self) -> tuple[int, int, int]:
        c = self.config
        return c.long_window, c.recent_window, c.pass_through_window

    def _amounts_and_types(self, win: dict[int, Cond], direction: dict[str, Cond]) -> None:
        c, flag = self.config, self._flag
        for d in ("in", "out"):
            for w in c.windows:
                for stat in STATS:
                    self._add(
                        f"{d}_{stat}_{w}d", "amount", f"{stat} of {_said(d)} amounts in the last {w} days",
                        _and(direction[d], win[w]), stat, w,
                    )  # fmt: skip
        for typ in c.types:
            slug = type_slug(typ)
            is_type = flag(f"t_{slug}", _type(typ))
            for w in c.type_windows:
                for stat in ("count", "sum"):
                    self._add(
                        f"type_{slug}_{stat}_{w}d", "activity",
                        f"{stat} of {_said(typ)} transactions in the last {w} days",
                        _and(is_type, win[w]), stat, w,
                    )  # fmt: skip

    def _risk_aggregates(self, win: dict[int, Cond], direction: dict[str, Cond]) -> list[tuple[str, Cond, str, bool]]:
        """Counts (and amounts) of risky kinds of transactions; returns the kinds, for their shares."""
        c, flag = self.config, self._flag
        L, _, P = self._lrp
        hr = flag("high_risk", _in("country", c.high_risk_countries))
        night = flag(
            "night",
            Cond(
                f"MOD(DIV(UNIX_MICROS(ts), {HOUR_US}), 24) < {c.night_end_hour}",
                lambda t: (t.ts_us // HOUR_US) % 24 < c.night_end_hour,
            ),
        )
        round_amt = flag(
            "round",
            Cond(
                "amount >= 100 AND amount = TRUNC(amount / 100) * 100",
                lambda t: (t.amount >= 100) & (t.amount == np.trunc(t.amount / 100) * 100),
            ),
        )
        failed = flag("failed", _in("status", ("failed",)))
        disputed = flag("disputed", _in("status", ("chargeback", "reversed")))
        shares = [
            ("high_risk_out", _and(direction["out"], hr), "outgoing to high-risk countries", True),
            ("night", night, f"between 00:00 and {c.night_end_hour:02d}:00 UTC", False),
            ("round_amount", round_amt, "in round hundreds", False),
            ("failed", failed, "failed", False),
            ("chargeback_reversed", disputed, "charged back or reversed", False),
        ]
        near = None
        if c.amount_thresholds_apply:  # amounts in the thresholds' currency: the AML meanings hold
            low = c.reporting_threshold * 0.85
            near = flag(
                "near",
                Cond(
                    f"amount >= {literal(low)} AND amount < {literal(c.reporting_threshold)}",
                    lambda t: (t.amount >= low) & (t.amount < c.reporting_threshold),
                ),
            )
            small = flag("small", Cond(f"amount < {literal(c.small_amount)}", lambda t: t.amount < c.small_amount))
            shares.insert(3, ("small_amount", small, f"below {c.small_amount:g} (micro-transfers)", False))
            shares.append(
                ("near_threshold", near, f"in [85%, 100%) of the {c.reporting_threshold:,.0f} reporting threshold",
                 False)
            )  # fmt: skip
        for key, cond, words, by_amount in shares:
            self._add(
                f"{key}_count_{L}d", "risk", f"transactions {words}, last {L} days", _and(cond, win[L]), "count", L
            )
            if by_amount:
                self._add(f"{key}_sum_{L}d", "risk", f"amount {words}, last {L} days", _and(cond, win[L]), "sum", L)
        self._add(f"all_count_{L}d", "activity", f"transactions in the last {L} days", win[L], "count", L)
        if near is not None:
            self._add(
                f"near_threshold_count_{c.pass_through_window}d", "risk",
                f"transactions near the reporting threshold, last {P} days", _and(near, win[P]), "count", P,
            )  # fmt: skip
        return shares

    def _ratios(self, shares: list[tuple[str, Cond, str, bool]]) -> None:
        """Ratios and shares of the aggregates above and of the specials."""
        c = self.config
        L, R, _ = self._lrp
        for w in c.windows:
            self._ratio(
                f"out_in_ratio_{w}d", "ratio", f"out sum / in sum, last {w} days", f"out_sum_{w}d", f"in_sum_{w}d"
            )
        for d in ("in", "out"):
            self._ratio(
                f"{d}_mean_{R}d_vs_{L}d", "ratio",
                f"average {_said(d)} amount in the last {R} days vs the last {L} days",
                f"{d}_mean_{R}d", f"{d}_mean_{L}d",
            )  # fmt: skip
            for stat in ("count", "sum"):
                self._ratio(
                    f"{d}_{stat}_{R}d_vs_{L}d", "ratio",
                    f"{d} {stat} in the last {R} days vs the {L}-day pace", f"{d}_{stat}_{R}d", f"{d}_{stat}_{L}d",
                    scale=L / R,
                )  # fmt: skip
        for key, _, words, by_amount in shares:
            if by_amount:
                self._ratio(
                    f"{key}_share_{L}d", "risk", f"share of out amount {words}", f"{key}_sum_{L}d", f"out_sum_{L}d"
                )
            elif key != "near_threshold":
                self._ratio(
                    f"{key}_share_{L}d",
                    "risk",
                    f"share of transactions {words}",
                    f"{key}_count_{L}d",
                    f"all_count_{L}d",
                )
        self._ratio(
            f"tx_per_counterparty_{L}d", "diversity", f"transactions per distinct counterparty, last {L} days",
            f"all_count_{L}d", f"counterparties_{L}d",
        )  # fmt: skip
        for d, who in (("in", "senders"), ("out", "receivers")):
            self._ratio(
                f"{d}_tx_per_{who[:-1]}_{L}d", "diversity",
                f"{_said(d)} transactions per distinct {who[:-1]}, last {L} days", f"{d}_count_{L}d", f"{who}_{L}d",
            )  # fmt: skip
        self._ratio(
            f"new_counterparty_share_{R}d", "diversity", f"new counterparties / counterparties, last {R} days",
            f"new_counterparties_{R}d", f"counterparties_{R}d",
        )  # fmt: skip
        if self.attributes.get(c.income_attribute) == "numeric":
            inc = c.income_attribute
            self._ratio(f"in_sum_{L}d_to_income", "income", f"money in over {L} days / {inc}", f"in_sum_{L}d", inc)
            self._ratio(
                f"out_sum_{R}d_annualized_to_income", "income", f"money out in {R} days, annualized / {inc}",
                f"out_sum_{R}d", inc, scale=365 / R,
            )  # fmt: skip

    def features(self) -> list[Feature]:
        words = self.config.attribute_words
        attrs = [
            Feature(name, "attribute", words.get(name, f"customer attribute {name}"), kind=kind)  # type: ignore[arg-type]
            for name, kind in self.attributes.items()
        ]
        specials = [s.feature for s in self.specials]
        generated = [f.feature for f in self.tx] + specials + [d.feature for d in self.derived]
        omit = set(self.config.omit)
        return [f for f in generated if f.name not in omit] + attrs

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features()]

    @property
    def categorical(self) -> list[str]:
        return [f.name for f in self.features() if f.kind == "categorical"]


def attribute_kinds(columns: dict[str, str]) -> dict[str, str]:
    """Customer attribute columns (warehouse types) -> numeric | categorical; contract columns excluded."""
    kinds = {}
    for name, typ in columns.items():
        if name in CONTRACT_CUSTOMER_COLUMNS:
            continue
        kinds[name] = "numeric" if typ in ("INT64", "FLOAT64", "NUMERIC", "BIGNUMERIC") else "categorical"
    return kinds


# -- batch: one BigQuery-dialect query --------------------------------------------------------------------------


def feature_sql(fs: FeatureSet, customers_ref: str, transactions_ref: str, cutoff: datetime, labelled: bool) -> str:
    """One query: a row per customer of `customers_ref` with every feature (and `label` when labelled)."""
    c = fs.config
    L, R, P = c.long_window, c.recent_window, c.pass_through_window
    cut = _micros(cutoff)
    flags = ", ".join(f"{sql} AS {name}" for name, sql in fs.flags.items())
    tx_aggs = ",\n    ".join(f"{f.sql} AS {f.feature.name}" for f in fs.tx)
    attrs = "".join(
        f",\n  CAST(c.{ident(n)} AS {'FLOAT64' if k == 'numeric' else 'STRING'}) AS {ident(n)}"
        for n, k in fs.attributes.items()
    )
    specials = ",\n  ".join(f"{s.sql.format(cut=cut)} AS {s.feature.name}" for s in fs.specials)
    zero = {f.feature.name for f in fs.tx if f.stat in ("count", "sum")}
    tx_cols = ",\n  ".join(
        f"COALESCE(a.{f.feature.name}, 0) AS {f.feature.name}" if f.feature.name in zero else f"a.{f.feature.name}"
        for f in fs.tx
    )

    def src(cols: str, where: str = "") -> str:
        # Each reader scans the source for its own columns: sharing one wide CTE cost more than rescanning
        # a columnar table (docs/decisions/0003-feature-sql-layout.md).
        extra = f" AND {where}" if where else ""
        return (
            f"(SELECT customer_id, {cols}, {cut} - UNIX_MICROS(ts) AS age_us FROM {transactions_ref} "
            f"WHERE ts < TIMESTAMP_MICROS({cut}){extra})"
        )

    t_all = src("amount, direction, type, country, status, ts")
    base = f"""
WITH a AS (
  SELECT customer_id,
    {tx_aggs},
    MIN(age_us) AS _last_age, MAX(age_us) AS _first_age,
    MIN(IF(direction = 'in', age_us, NULL)) AS _last_in_age, MIN(IF(direction = 'out', age_us, NULL)) AS _last_out_age,
    COUNT(DISTINCT IF(age_us < {L * DAY_US}, country, NULL)) AS _countries
  FROM (SELECT t.*, {flags} FROM {t_all} AS t) GROUP BY customer_id
),
daily AS (
  SELECT customer_id, DIV(age_us, {DAY_US}) AS day, COUNT(*) AS n,
    COALESCE(SUM(IF(direction = 'in', amount, NULL)), 0) AS in_sum,
    COALESCE(SUM(IF(direction = 'out', amount, NULL)), 0) AS out_sum
  FROM {src("amount, direction", f"ts >= TIMESTAMP_MICROS({cut - P * DAY_US + 1})")} GROUP BY customer_id, day
),
d AS (
  SELECT d0.customer_id,
    COUNT(*) AS active_days, SUM(d0.n) AS n_tx, MAX(d0.n) AS max_n,
    MAX(d0.in_sum) AS max_in, MAX(d0.out_sum) AS max_out,
    SUM(LEAST(d0.in_sum, d0.out_sum + COALESCE(d1.out_sum, 0))) AS passed, SUM(d0.in_sum) AS received
  FROM daily AS d0 LEFT JOIN daily AS d1 ON d1.customer_id = d0.customer_id AND d1.day = d0.day - 1
  GROUP BY d0.customer_id
),
cp AS (
  SELECT customer_id, MIN(age_us) AS last_age, MAX(age_us) AS first_age,
    MIN(IF(direction = 'in', age_us, NULL)) AS last_in_age, MIN(IF(direction = 'out', age_us, NULL)) AS last_out_age
  FROM {src("counterparty_id, direction", "counterparty_id IS NOT NULL")} GROUP BY customer_id, counterparty_id
),
cpa AS (
  SELECT customer_id, CAST(COUNTIF(last_age < {R * DAY_US}) AS INT64) AS cp_recent,
    CAST(COUNTIF(last_age < {L * DAY_US}) AS INT64) AS cp_long,
    CAST(COUNTIF(first_age < {R * DAY_US}) AS INT64) AS cp_new,
    CAST(COUNTIF(last_in_age < {L * DAY_US}) AS INT64) AS senders,
    CAST(COUNTIF(last_out_age < {L * DAY_US}) AS INT64) AS receivers
  FROM cp GROUP BY customer_id
),
f AS (
  SELECT c.customer_id,
  {tx_cols},
  {specials}{attrs}{", c.account_state" if labelled else ""}
  FROM {customers_ref} AS c
  LEFT JOIN a ON a.customer_id = c.customer_id
  LEFT JOIN d ON d.customer_id = c.customer_id
  LEFT JOIN cpa ON cpa.customer_id = c.customer_id
)"""
    derived = "".join(f",\n  {d.sql} AS {d.feature.name}" for d in fs.derived if d.feature.name not in c.omit)
    label = f",\n  IF(account_state = '{LABEL_SUSPENDED}', 1, 0) AS {LABEL_COLUMN}" if labelled else ""
    plain = [
        f.name for f in fs.features() if f.group != "attribute" and f.name not in {d.feature.name for d in fs.derived}
    ]
    cols = ", ".join(["customer_id", *plain, *(ident(n) for n in fs.attributes)])
    return f"{base}\nSELECT {cols}{derived}{label}\nFROM f"


# -- online: the same vector from a payload ----------------------------------------------------------------------


TX_COLUMNS = ("ts", "amount", "direction", "type", "counterparty_id", "country", "status")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _micros(ts: datetime) -> int:
    """Exact integer microseconds since the epoch (float `timestamp()` can be a microsecond off)."""
    return ((ts if ts.tzinfo else ts.replace(tzinfo=UTC)) - _EPOCH) // _US


def _tx_arrays(transactions: pa.Table | Mapping[str, Sequence[Any]] | Sequence[dict[str, Any]], cutoff_us: int) -> Tx:
    """Arrays from an Arrow table (warehouse rows), columns (the service), or a list of row dicts."""
    if isinstance(transactions, pa.Table):
        n = transactions.num_rows
        ts = (
            transactions.column("ts").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy(zero_copy_only=False)
            if n
            else np.zeros(0, np.int64)
        )
        cols = {c: transactions.column(c).to_pylist() for c in TX_COLUMNS[1:] if c in transactions.column_names}
    else:
        if isinstance(transactions, Mapping):
            cols = dict(transactions)
        else:
            cols = {c: [r.get(c) for r in transactions] for c in TX_COLUMNS if any(c in r for r in transactions)}
        n = len(cols.get("ts", ()))
        # Arrow converts aware datetimes to exact UTC microseconds in C (naive ones are taken as UTC).
        ts = pa.array(cols.get("ts", ()), pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy()
    keep = ts < cutoff_us

    def col(name: str) -> np.ndarray:
        values = cols.get(name)
        return np.asarray(values, dtype=object)[keep] if values is not None else np.full(int(keep.sum()), None, object)

    return Tx(
        age_us=(cutoff_us - ts)[keep],
        amount=np.asarray(cols.get("amount", ()), dtype=float)[keep] if n else np.zeros(0),
        out=col("direction") == "out",
        type=col("type"),
        counterparty=col("counterparty_id"),
        country=col("country"),
        status=col("status"),
        ts_us=ts[keep],
    )


def _tx_aggregates(fs: FeatureSet, t: Tx) -> dict[str, float | None]:
    """Every transaction aggregate with the SQL's NULL rules, in a few array operations: one row per distinct
    filter in a (filters x transactions) mask, then counts, sums, extremes and spreads per row (a Python
    call per feature cost ~4x more)."""
    conds, row = fs._tx_conds, fs._tx_row
    a = t.amount
    mask = np.array([c.np(t) for c in conds], dtype=bool).reshape(len(conds), len(a))
    count = mask.sum(axis=1)
    total = mask @ a if len(a) else np.zeros(len(conds))
    stats: dict[str, np.ndarray] = {"count": count.astype(float), "sum": total}
    if len(a):
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / count
            dev = np.where(mask, a - mean[:, None], 0.0)
            stats |= {
                "mean": mean,
                "min": np.where(mask, a, np.inf).min(axis=1),
                "max": np.where(mask, a, -np.inf).max(axis=1),
                "std": np.sqrt((dev * dev).sum(axis=1) / (count - 1)),
            }
    out: dict[str, float | None] = {}
    for f in fs.tx:
        i = row[f.cond.sql]
        if f.stat in ("count", "sum"):
            out[f.feature.name] = float(stats[f.stat][i])
        else:  # NULL over no rows; the sample deviation also over one
            out[f.feature.name] = None if count[i] < (2 if f.stat == "std" else 1) else float(stats[f.stat][i])
    return out


def _summaries(fs: FeatureSet, t: Tx, cutoff_us: int, signup_us: int) -> dict[str, Any]:
    """The per-day and per-counterparty summaries of `feature_sql`'s CTEs for one customer, keyed by the same
    column names (None where the SQL's LEFT JOIN finds no row); the specials read them."""
    c = fs.config
    L, R, P = c.long_window, c.recent_window, c.pass_through_window
    s: dict[str, Any] = {"tenure_us": cutoff_us - signup_us}
    vel = t.age_us < P * DAY_US
    days = t.day[vel]
    s |= dict.fromkeys(("d.active_days", "d.n_tx", "d.max_n", "d.max_in", "d.max_out", "d.passed", "d.received"))
    if len(days):
        uniq, inv = np.unique(days, return_inverse=True)
        n = np.bincount(inv)
        in_sum = np.bincount(inv, weights=np.where(~t.out[vel], t.amount[vel], 0.0))
        out_sum = np.bincount(inv, weights=np.where(t.out[vel], t.amount[vel], 0.0))
        nxt = {int(d): o for d, o in zip(uniq, out_sum, strict=True)}
        next_out = np.array([nxt.get(int(d) - 1, 0.0) for d in uniq])
        s |= {
            "d.active_days": len(uniq), "d.n_tx": float(n.sum()), "d.max_n": n.max(), "d.max_in": in_sum.max(),
            "d.max_out": out_sum.max(), "d.passed": float(np.minimum(in_sum, out_sum + next_out).sum()),
            "d.received": float(in_sum.sum()),
        }  # fmt: skip
    has_cp = pd.notna(t.counterparty)
    codes, uniq = pd.factorize(t.counterparty[has_cp])  # hash-based: no per-transaction Python loop
    age, is_out = t.age_us[has_cp], t.out[has_cp]
    never = np.iinfo(np.int64).max

    def youngest(mask: np.ndarray) -> np.ndarray:  # per counterparty: the age of its latest transaction
        v = np.full(len(uniq), never, dtype=np.int64)
        np.minimum.at(v, codes[mask], age[mask])
        return v

    last, last_in, last_out = youngest(np.ones(len(age), bool)), youngest(~is_out), youngest(is_out)
    first = np.full(len(uniq), -1, dtype=np.int64)
    np.maximum.at(first, codes, age)
    s |= {
        "cpa.cp_recent": (last < R * DAY_US).sum(), "cpa.cp_long": (last < L * DAY_US).sum(),
        "cpa.cp_new": ((first >= 0) & (first < R * DAY_US)).sum(), "cpa.senders": (last_in < L * DAY_US).sum(),
        "cpa.receivers": (last_out < L * DAY_US).sum(),
        "a._countries": len({x for x in t.country[t.age_us < L * DAY_US] if x is not None}),
    }  # fmt: skip
    ins, outs = t.age_us[~t.out], t.age_us[t.out]
    s["a._first_age"] = float(t.age_us.max()) if len(t.age_us) else None
    s["a._last_age"] = float(t.age_us.min()) if len(t.age_us) else None
    s["a._last_in_age"] = float(ins.min()) if len(ins) else None
    s["a._last_out_age"] = float(outs.min()) if len(outs) else None
    return s


def online_features(
    fs: FeatureSet,
    customer: dict[str, Any],
    transactions: pa.Table | Mapping[str, Sequence[Any]] | Sequence[dict[str, Any]],
    cutoff: datetime,
) -> dict[str, Any]:
    """The feature vector of one customer from its raw record and transactions (an Arrow table, columns, or
    row dicts), as batch computes it."""
    cutoff_us = _micros(cutoff)
    signup = customer.get("signup_ts")
    if signup is None:
        raise DataContractError("signup_ts is missing", "customer record", "send the customer's signup_ts")
    signup_us = _micros(signup) if isinstance(signup, datetime) else int(signup)
    t = _tx_arrays(transactions, cutoff_us)
    values: dict[str, Any] = dict(_tx_aggregates(fs, t))
    summaries = _summaries(fs, t, cutoff_us, signup_us)
    values |= {s.feature.name: s.np(summaries) for s in fs.specials}
    for name, kind in fs.attributes.items():
        v = customer.get(name)
        if v is None or (isinstance(v, float) and np.isnan(v)):
            values[name] = None
        elif kind == "numeric":
            values[name] = float(v)
        else:
            values[name] = str(v).lower() if isinstance(v, bool) else str(v)
    for d in fs.derived:
        values[d.feature.name] = d.np(values)
    return {name: values[name] for name in fs.names}


# -- materialize and document -----------------------------------------------------------------------------------


def build_features(wh: Any, cohort: str, cutoff: datetime, config: FeatureConfig | None = None) -> FeatureSet:
    """Compute `<cohort>_features` in the warehouse (one row per clean customer) and return the feature set."""
    customers, transactions = table_name(cohort, "customers"), table_name(cohort, "transactions")
    for name in (customers, transactions):
        if not wh.exists(name):
            raise DataContractError(
                f"table {name} does not exist",
                f"warehouse ({wh.backend})",
                "run `riskops ingest` for this cohort first",
            )
    fs = feature_set(wh, cohort, config)
    sql = feature_sql(fs, wh.ref(customers), wh.ref(transactions), cutoff, labelled=cohort == "labelled")
    # The cut-off first: if the build then fails, the old features sit under a later cut-off, which only makes
    # training from outcomes (riskops.runs.candidate.outcome_examples) take fewer of them, never a later one.
    wh.load(table_name(cohort, "features_cutoff"), pa.table({"cutoff": pa.array([cutoff], pa.timestamp("us", "UTC"))}))
    wh.execute(f"CREATE OR REPLACE TABLE {wh.ref(table_name(cohort, 'features'))} AS {sql}")
    return fs


def omit_constant(wh: Any, cohort: str, fs: FeatureSet) -> tuple[FeatureSet, list[str]]:
    """Leave out of `<cohort>_features`, and of the feature set from now on, the generated features with one value
    (or none) for every customer: they cannot tell anyone apart, so scoring and the service never compute them.
    Null counts as a value, as in training's own check (`model.train.prepare`). One query over the table."""
    names = [f.name for f in fs.features() if f.group != "attribute"]
    if not names:
        return fs, []
    ref = wh.ref(table_name(cohort, "features"))
    counts = ", ".join(f"COUNT(DISTINCT {ident(n)}) AS d{i}, COUNTIF({ident(n)} IS NULL) AS z{i}"
                       for i, n in enumerate(names))  # fmt: skip
    row = wh.query(f"SELECT {counts} FROM {ref}").to_pylist()[0]
    constant = [n for i, n in enumerate(names) if row[f"d{i}"] == 0 or (row[f"d{i}"] == 1 and row[f"z{i}"] == 0)]
    if not constant:
        return fs, []
    wh.execute(f"CREATE OR REPLACE TABLE {ref} AS SELECT * EXCEPT ({', '.join(ident(c) for c in constant)}) FROM {ref}")
    config = fs.config.model_copy(update={"omit": (*fs.config.omit, *constant)})
    return FeatureSet(config, fs.attributes), constant


def features_cutoff(wh: Any, cohort: str) -> datetime | None:
    """The cut-off `<cohort>_features` was last built at (None: built before this was recorded, or never)."""
    name = table_name(cohort, "features_cutoff")
    if not wh.exists(name):
        return None
    values = wh.read_table(name).column("cutoff").to_pylist()
    return values[0] if values else None


def feature_set(wh: Any, cohort: str, config: FeatureConfig | None = None) -> FeatureSet:
    """The feature set of a cohort's clean customers table (what `build_features` computes), without computing."""
    return FeatureSet(config or FeatureConfig(), attribute_kinds(wh.columns(table_name(cohort, "customers"))))


def read_features(wh: Any, cohort: str) -> Any:
    """The features table as a DataFrame in customer_id order: warehouses return groups in any order, and
    splits, folds and seeds must see the same rows in the same order on every run."""
    frame = wh.read_table(table_name(cohort, "features")).to_pandas()
    return frame.sort_values(ID_COLUMN, kind="stable").reset_index(drop=True)


def catalogue_markdown(fs: FeatureSet) -> str:
    """The feature catalogue, generated from the code (docs/features.md)."""
    lines = [
        "# Feature catalogue",
        "",
        "Generated from `riskops/features/engineering.py` by `riskops features catalogue`; do not edit by hand.",
        "Windows end at the cut-off (`as_of`); a transaction is in a w-day window when it happened less than",
        "w x 24 hours before the cut-off. Customer attributes depend on the data; those below are the",
        "synthetic book's.",
        "",
        f"{len(fs.names)} features.",
        "",
        "| name | group | window (days) | definition |",
        "|---|---|---|---|",
    ]
    for f in fs.features():
        lines.append(f"| `{f.name}` | {f.group} | {f.window or ''} | {f.definition} |")
    return "\n".join(lines) + "\n"
