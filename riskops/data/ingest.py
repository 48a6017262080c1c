"""Ingest + validation: map a cohort's source tables onto the contract as of a cut-off, inside the warehouse.

Each table is checked in one BigQuery-dialect pass that gives every row its first failing reason. Rows with a
reason go to a quarantine table (their original columns + `quarantine_reason`), the rest to a typed clean
table; rows in always equal clean + quarantined, so nothing is dropped silently. A validation report (JSON +
Markdown) is written whatever happens, and data that cannot be used stops the run with an UnusableDataError.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel

from riskops.core.errors import DataContractError, RiskOpsError, UnusableDataError
from riskops.core.identity import code_version
from riskops.core.names import check_column, ident, literal
from riskops.data.contract import (
    BAD_ENCODING,
    CUSTOMER_COLUMNS,
    LABEL_ACTIVE,
    LABEL_SUSPENDED,
    TRANSACTION_COLUMNS,
    Cohort,
    Column,
    Mapping,
    as_of_cutoff,
    table_name,
)
from riskops.io.artifacts import ArtifactStore
from riskops.io.warehouse.base import TYPE_FAMILIES, Warehouse

log = logging.getLogger(__name__)

# Which source type families can be cast row by row to each contract type.
_ACCEPTS = {
    "STRING": {"string", "number"},
    "FLOAT64": {"number", "string"},
    "TIMESTAMP": {"time", "string"},
}


class TableReport(BaseModel):
    source: str
    clean_table: str
    quarantine_table: str
    rows_in: int = 0
    rows_clean: int = 0
    rows_quarantined: int = 0
    by_reason: dict[str, int] = {}
    missing_optional: list[str] = []
    extra_columns: list[str] = []
    examples: list[dict[str, Any]] = []


class ValidationReport(BaseModel):
    cohort: str
    as_of: str
    cutoff: datetime
    checked_at: datetime
    backend: str
    status: Literal["ok", "failed"] = "ok"
    errors: list[str] = []
    warnings: list[str] = []
    customers: TableReport
    transactions: TableReport
    labels: dict[str, int] = {}
    customers_without_transactions: int = 0
    snapshot: dict[str, Any] = {}
    duration_s: float = 0.0
    code_version: str = ""
    report_uri: str = ""

    def summary(self) -> str:
        """A short human summary in Markdown."""
        c, t = self.customers, self.transactions
        lines = [
            f"# Validation: {self.cohort} cohort as of {self.as_of} - {self.status.upper()}",
            "",
            f"- customers: {c.rows_in:,} in, {c.rows_clean:,} clean, {c.rows_quarantined:,} quarantined",
            f"- transactions: {t.rows_in:,} in, {t.rows_clean:,} clean, {t.rows_quarantined:,} quarantined",
        ]
        if self.labels:
            total = sum(self.labels.values()) or 1
            lines.append(
                "- labels: " + ", ".join(f"{k} {v:,} ({v / total:.1%})" for k, v in sorted(self.labels.items()))
            )
        for name, table in (("customers", c), ("transactions", t)):
            if table.by_reason:
                reasons = ", ".join(f"{r} {n:,}" for r, n in sorted(table.by_reason.items(), key=lambda x: -x[1]))
                lines.append(f"- quarantined {name} by reason: {reasons} (table `{table.quarantine_table}`)")
        if c.extra_columns:
            lines.append(f"- extra customer columns kept: {', '.join(c.extra_columns)}")
        if t.missing_optional:
            lines.append(f"- optional transaction columns absent: {', '.join(t.missing_optional)}")
        lines += [f"- warning: {w}" for w in self.warnings]
        lines += [f"- ERROR: {e}" for e in self.errors]
        lines.append(f"- checked in {self.duration_s:.1f}s on {self.backend}; code {self.code_version}")
        return "\n".join(lines) + "\n"


def _ts_literal(ts: datetime) -> str:
    return f"TIMESTAMP '{ts.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S.%f')}+00'"


def _str_list(values: list[str]) -> str:
    return ", ".join(literal(v) for v in values)


@dataclass
class _Resolved:
    """Contract column -> SQL expression over the source row, plus what the source lacks or adds."""

    exprs: dict[str, str]
    missing_optional: list[str]
    extras: list[str]
    bad_encoding: bool = False  # the load marked rows whose bytes were not UTF-8
    text: set[str] = field(default_factory=set)  # contract columns whose source column is a STRING

    def missing(self, name: str) -> str:
        """SQL that is true when the row has no value for contract column `name`: NULL, or (for text) blank."""
        col = _col(self.exprs[name])
        return f"{_key(col)} IS NULL" if name in self.text else f"{col} IS NULL"


def _resolve(
    wh: Warehouse,
    table: str,
    kind: Literal["customers", "transactions"],
    contract: tuple[Column, ...],
    mapping: Mapping,
    labelled: bool,
) -> _Resolved:
    if not wh.exists(table):
        raise DataContractError(
            f"source table {table} for {kind} does not exist",
            f"warehouse ({wh.backend})",
            "load the data first (riskops load ...) or fix the table name in the mapping file",
        )
    source = wh.columns(table)
    for name in source:  # every source name is checked before any SQL is built from it
        check_column(name, f"table {table} ({kind}): a column of the source")
    spec = mapping.customers if kind == "customers" else mapping.transactions
    exprs: dict[str, str] = {}
    missing_required, missing_optional, wrong_types = [], [], []
    text: set[str] = set()
    for col in contract:
        src = mapping.source_column(kind, col.name)
        required = col.required or (labelled and col.name == "account_state")
        if src in source:
            family = TYPE_FAMILIES.get(source[src], "other")
            if family not in _ACCEPTS[col.type]:
                wrong_types.append(f"{src} is {source[src]} but {col.name} must be {col.type}")
            exprs[col.name] = ident(src)
            if source[src] == "STRING":
                text.add(col.name)
        elif col.name in spec.defaults:
            exprs[col.name] = literal(spec.defaults[col.name])
        elif required:
            missing_required.append(col.name if src == col.name else f"{col.name} (mapped to {src})")
        elif col.name != "account_state":
            missing_optional.append(col.name)
            exprs[col.name] = "CAST(NULL AS STRING)"
    where = f"table {table} ({kind}, {wh.backend})"
    if missing_required:
        raise DataContractError(
            f"required columns missing: {', '.join(missing_required)}; the table has: {', '.join(source)}",
            where,
            "rename the columns, or map them in the mapping file (customers/transactions: columns:)",
        )
    if wrong_types:
        raise DataContractError(
            f"columns of the wrong type: {'; '.join(wrong_types)}",
            where,
            "cast them in the source (e.g. epoch seconds -> TIMESTAMP) or map the right column",
        )
    mapped = {mapping.source_column(kind, c.name) for c in contract}
    extras = [c for c in source if c not in mapped and c != BAD_ENCODING]
    undeclared = sorted({*mapping.categorical, *mapping.numeric} - set(extras)) if kind == "customers" else []
    if undeclared:
        raise DataContractError(
            f"the mapping declares roles for {undeclared}, but they are not attribute columns of the table "
            f"(its attributes: {', '.join(extras) or 'none'})",
            where,
            "fix the names under `categorical:` / `numeric:` in the mapping file (source column names)",
        )
    clash = [c for c in extras if c in {col.name for col in contract}]
    if clash:
        raise DataContractError(
            f"columns {clash} have contract names but another column is mapped onto them",
            where,
            "rename or drop them in the source, or map them instead",
        )
    return _Resolved(exprs, missing_optional, extras, BAD_ENCODING in source, text)


def _attribute(column: str, mapping: Mapping) -> str:
    """A customer attribute as the clean table holds it: cast to its declared role, else as it is."""
    if column in mapping.categorical:
        return f"CAST(s.{ident(column)} AS STRING)"
    if column in mapping.numeric:
        return f"SAFE_CAST(TRIM(CAST(s.{ident(column)} AS STRING)) AS FLOAT64)"
    return f"s.{ident(column)}"


def _encoding_flag(r: _Resolved) -> str:
    return f", s.{ident(BAD_ENCODING)} IS NOT NULL AS _bad_enc" if r.bad_encoding else ""


def _encoding_check(r: _Resolved) -> list[tuple[str, str]]:
    """Rows whose bytes were not UTF-8 (named by the load in `_bad_encoding`, kept in the quarantine row)."""
    return [("_bad_enc", "bad_encoding")] if r.bad_encoding else []


def _key(expr: str) -> str:
    return f"NULLIF(TRIM(CAST({expr} AS STRING)), '')"


def _values_case(expr: str, groups: dict[str, list[str]], upper: bool) -> str:
    fn = "UPPER" if upper else "LOWER"
    norm = f"{fn}(TRIM(CAST({expr} AS STRING)))"
    whens = " ".join(
        f"WHEN {norm} IN ({_str_list([v.upper() if upper else v.lower() for v in vals])}) THEN {literal(target)}"
        for target, vals in groups.items()
    )
    return f"CASE {whens} END"


@dataclass
class CleanTables:
    cohort: str

    @property
    def customers(self) -> str:
        return table_name(self.cohort, "customers")

    @property
    def transactions(self) -> str:
        return table_name(self.cohort, "transactions")

    @property
    def quarantine_customers(self) -> str:
        return table_name(self.cohort, "quarantine_customers")

    @property
    def quarantine_transactions(self) -> str:
        return table_name(self.cohort, "quarantine_transactions")


@dataclass
class TableSQL:
    """BigQuery SQL for one contract table: its quarantine rows and its clean rows."""

    quarantine: str  # SELECT: the source rows as they came + quarantine_reason
    clean: str  # SELECT: typed contract columns + extra columns, for rows not quarantined
    clean_all: str  # the same when nothing was quarantined: no anti-join for every reader to pay


def _split(
    wh: Warehouse,
    src: str,
    key: str,
    key_reason: str,
    narrow: str,
    ctes: str,
    joins: str,
    checks: list[tuple[str, str]],
    projection: str,
    quarantine_table: str,
) -> TableSQL:
    """Flag rows on a narrow projection, then split the source by key.

    Only keys and the columns the checks need travel through the joins (carrying every source column
    through them cost 3x). Every check after the key's own makes all rows sharing a key fail alike
    (duplicates are the second check), so 'clean' is exactly: key present and key not quarantined.
    """
    case = "CASE " + " ".join(f"WHEN {c} THEN '{reason}'" for c, reason in checks) + " END"
    src_key = key.format(t="s")
    quarantine = f"""
WITH k AS (SELECT {key.format(t="s")} AS _key, {narrow} FROM {wh.ref(src)} AS s),
dups AS (SELECT _key AS _dk FROM k WHERE _key IS NOT NULL GROUP BY _key HAVING COUNT(*) > 1){ctes},
bad AS (
  SELECT DISTINCT _key, quarantine_reason FROM (
    SELECT k._key, {case} AS quarantine_reason FROM k LEFT JOIN dups ON k._key = dups._dk {joins}
  ) WHERE quarantine_reason IS NOT NULL AND _key IS NOT NULL
)
SELECT s.*, bad.quarantine_reason FROM {wh.ref(src)} AS s JOIN bad ON {src_key} = bad._key
UNION ALL
SELECT s.*, '{key_reason}' AS quarantine_reason FROM {wh.ref(src)} AS s WHERE {src_key} IS NULL"""
    clean = f"""
SELECT {projection}
FROM {wh.ref(src)} AS s
LEFT JOIN (
  SELECT DISTINCT {key.format(t="q")} AS _qk FROM {wh.ref(quarantine_table)} AS q
) AS q ON {src_key} = q._qk
WHERE {src_key} IS NOT NULL AND q._qk IS NULL"""
    return TableSQL(quarantine, clean, f"SELECT {projection} FROM {wh.ref(src)} AS s")


def _col(expr: str, t: str = "s") -> str:
    """A resolved source expression (a quoted column or a literal) qualified by table alias `t`."""
    return f"{t}.{expr}" if expr.startswith("`") else expr


def customer_sql(
    wh: Warehouse,
    src: str,
    r: _Resolved,
    mapping: Mapping,
    tables: CleanTables,
    labelled: bool,
    cutoff: datetime,
    now: datetime,
) -> TableSQL:
    e = r.exprs
    signup = f"SAFE_CAST({_col(e['signup_ts'])} AS TIMESTAMP)"
    narrow = f"{r.missing('signup_ts')} AS _no_signup, {signup} AS _signup" + _encoding_flag(r)
    checks = [
        ("dups._dk IS NOT NULL", "duplicate_customer_id"),
        *_encoding_check(r),
        ("_no_signup", "missing_signup_ts"),
        ("_signup IS NULL", "bad_type:signup_ts"),
        (f"_signup > {_ts_literal(now)}", "signup_in_future"),
        (f"_signup >= {_ts_literal(cutoff)}", "signup_after_as_of"),
    ]
    label = ""
    if labelled:
        label_expr = _values_case(_col(e["account_state"]), mapping.labels, upper=True)
        narrow += f", {_key(_col(e['account_state']))} IS NULL AS _no_label, {label_expr} AS _label"
        checks += [("_no_label", "missing_label"), ("_label IS NULL", "unknown_label")]
        label = f", {label_expr} AS account_state"
    # A declared category is text in the clean table, a declared number a FLOAT64: the features and the model take
    # them as such. A declared number that does not read as one quarantines its row.
    extras = "".join(f", {_attribute(c, mapping)} AS {ident(c)}" for c in r.extras)
    for i, c in enumerate(a for a in r.extras if a in mapping.numeric):
        narrow += f", ({_key('s.' + ident(c))} IS NOT NULL AND {_attribute(c, mapping)} IS NULL) AS _bad_num{i}"
        checks.append((f"_bad_num{i}", f"bad_type:{c}"))
    projection = f"{_key(_col(e['customer_id']))} AS customer_id, {signup} AS signup_ts{label}{extras}"
    return _split(
        wh,
        src,
        _key(_col(e["customer_id"], "{t}")),
        "missing_customer_id",
        narrow,
        "",
        "",
        checks,
        projection,
        tables.quarantine_customers,
    )


def transaction_sql(
    wh: Warehouse,
    src: str,
    r: _Resolved,
    mapping: Mapping,
    tables: CleanTables,
    customer_key: str,
    cutoff: datetime,
    now: datetime,
) -> TableSQL:
    e = r.exprs
    currencies = _str_list(sorted(mapping.allowed_currencies()))
    ts = f"SAFE_CAST({_col(e['ts'])} AS TIMESTAMP)"
    amount = f"SAFE_CAST({_col(e['amount'])} AS FLOAT64)"
    direction = _values_case(_col(e["direction"]), mapping.directions, upper=False)
    currency = f"UPPER(TRIM(CAST({_col(e['currency'])} AS STRING)))"
    narrow = (
        f"{_key(_col(e['customer_id']))} AS _cid, {r.missing('ts')} AS _no_ts, {ts} AS _ts, "
        f"{r.missing('amount')} AS _no_amt, {amount} AS _amt, {direction} AS _dir, {currency} AS _cur"
    ) + _encoding_flag(r)
    ctes = f""",
known AS (SELECT customer_id AS _ck FROM {wh.ref(tables.customers)}),
quarantined AS (
  SELECT DISTINCT {customer_key.format(t="qc")} AS _qk FROM {wh.ref(tables.quarantine_customers)} AS qc
  WHERE {customer_key.format(t="qc")} IS NOT NULL
)"""
    joins = "LEFT JOIN known ON k._cid = known._ck LEFT JOIN quarantined ON k._cid = quarantined._qk"
    checks = [
        ("dups._dk IS NOT NULL", "duplicate_transaction_id"),
        *_encoding_check(r),
        ("_cid IS NULL", "missing_customer_id"),
        ("_qk IS NOT NULL", "customer_quarantined"),
        ("_ck IS NULL", "unknown_customer"),
        ("_no_ts", "missing_ts"),
        ("_ts IS NULL", "bad_type:ts"),
        (f"_ts > {_ts_literal(now)}", "ts_in_future"),
        (f"_ts >= {_ts_literal(cutoff)}", "ts_after_as_of"),
        ("_no_amt", "missing_amount"),
        ("_amt IS NULL", "bad_type:amount"),
        ("IS_NAN(_amt)", "amount_nan"),
        ("_amt < 0", "negative_amount"),
        (f"_amt > {literal(mapping.max_amount)}", "absurd_amount"),
        ("_dir IS NULL", "unknown_direction"),
        (f"_cur IS NOT NULL AND _cur NOT IN ({currencies})", "unknown_currency"),
    ]
    extras = "".join(f", s.{ident(c)}" for c in r.extras)
    projection = f"""{_key(_col(e["transaction_id"]))} AS transaction_id, {_key(_col(e["customer_id"]))} AS customer_id,
  {ts} AS ts, {amount} AS amount, {direction} AS direction, {currency} AS currency,
  LOWER(TRIM(CAST({_col(e["type"])} AS STRING))) AS type, {_key(_col(e["counterparty_id"]))} AS counterparty_id,
  UPPER(TRIM(CAST({_col(e["country"])} AS STRING))) AS country,
  LOWER(TRIM(CAST({_col(e["status"])} AS STRING))) AS status{extras}"""
    return _split(
        wh,
        src,
        _key(_col(e["transaction_id"], "{t}")),
        "missing_transaction_id",
        narrow,
        ctes,
        joins,
        checks,
        projection,
        tables.quarantine_transactions,
    )


def _split_tables(wh: Warehouse, sql: TableSQL, quarantine: str, clean: str) -> None:
    wh.execute(f"CREATE OR REPLACE TABLE {wh.ref(quarantine)} AS {sql.quarantine}")
    # A row with no key is always quarantined, so an empty quarantine means every row is clean.
    wh.derive(clean, sql.clean_all if wh.count(quarantine) == 0 else sql.clean)


def _reason_counts(wh: Warehouse, table: str) -> dict[str, int]:
    rows = wh.query(f"SELECT quarantine_reason AS r, COUNT(*) AS n FROM {wh.ref(table)} GROUP BY 1").to_pylist()
    return {row["r"]: int(row["n"]) for row in rows}


def _examples(wh: Warehouse, table: str, n: int = 10) -> list[dict[str, Any]]:
    rows = wh.query(f"SELECT * FROM {wh.ref(table)} ORDER BY quarantine_reason LIMIT {n}").to_pylist()
    return [
        {k: (v if isinstance(v, int | float | str | bool) or v is None else str(v)) for k, v in r.items()} for r in rows
    ]


def ingest_cohort(
    wh: Warehouse,
    cohort: Cohort,
    as_of: date | datetime,
    store: ArtifactStore,
    report_prefix: str,
    mapping: Mapping | None = None,
    now: datetime | None = None,
) -> ValidationReport:
    """Validate one cohort into clean + quarantine tables and write its report under `report_prefix`.

    Raises DataContractError when the source cannot be mapped at all and UnusableDataError when what is left
    cannot be used; the report is written in both cases where the tables could be read.
    """
    mapping = mapping or Mapping()
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    cutoff = as_of_cutoff(as_of)
    future = as_of > now if isinstance(as_of, datetime) else as_of > now.date()
    if future:
        raise RiskOpsError(
            f"as_of {as_of} is in the future (now is {now.isoformat()})",
            "ingest",
            "pass an as_of date on or before today",
        )
    labelled = cohort == "labelled"
    src = mapping.cohorts[cohort]
    tables = CleanTables(cohort)
    for name in (tables.customers, tables.transactions, table_name(cohort, "ingest_as_of")):
        wh.drop(name)  # a failed run must not leave last run's clean tables looking current

    log.debug("validating %s customers from %s", cohort, src.customers)
    rc = _resolve(wh, src.customers, "customers", CUSTOMER_COLUMNS, mapping, labelled)
    rt = _resolve(wh, src.transactions, "transactions", TRANSACTION_COLUMNS, mapping, labelled)
    sql_c = customer_sql(wh, src.customers, rc, mapping, tables, labelled, cutoff, now)
    _split_tables(wh, sql_c, tables.quarantine_customers, tables.customers)

    log.debug("validating %s transactions from %s", cohort, src.transactions)
    key = _key(_col(ident(mapping.source_column("customers", "customer_id")), "{t}"))
    sql_t = transaction_sql(wh, src.transactions, rt, mapping, tables, key, cutoff, now)
    _split_tables(wh, sql_t, tables.quarantine_transactions, tables.transactions)

    report = ValidationReport(
        cohort=cohort,
        as_of=str(as_of),
        cutoff=cutoff,
        checked_at=now,
        backend=wh.backend,
        customers=_table_report(wh, src.customers, tables.customers, tables.quarantine_customers, rc),
        transactions=_table_report(wh, src.transactions, tables.transactions, tables.quarantine_transactions, rt),
        code_version=code_version(),
    )
    _judge(wh, report, tables, mapping, labelled)
    report.duration_s = round(time.perf_counter() - started, 3)
    key = f"{report_prefix.rstrip('/')}/report.json"
    report.report_uri = store.uri(key)
    if report.status == "failed":
        for name in (tables.customers, tables.transactions):
            wh.drop(name)  # unusable: downstream steps must not pick these up
    store.write_text(f"{report_prefix.rstrip('/')}/summary.md", report.summary())
    store.write_text(key, report.model_dump_json(indent=2))  # written last: the report marks a finished step
    if report.status == "failed":
        raise UnusableDataError(
            "; ".join(report.errors),
            f"{cohort} cohort",
            "fix the source data (the quarantine tables list each bad row and its reason) and run again",
            report_path=report.report_uri,
        )
    wh.load(table_name(cohort, "ingest_as_of"), pa.table({"as_of": [str(as_of)]}))  # what scoring must cut at
    return report


def ingested_as_of(wh: Warehouse, cohort: str) -> str | None:
    """The as-of date the cohort's clean tables were validated at (None: ingested before it was recorded)."""
    name = table_name(cohort, "ingest_as_of")
    if not wh.exists(name):
        return None
    values = wh.read_table(name).column("as_of").to_pylist()
    return str(values[0]) if values else None


def _table_report(wh: Warehouse, src: str, clean: str, quarantine: str, r: _Resolved) -> TableReport:
    rows_in, rows_clean, rows_q = wh.count(src), wh.count(clean), wh.count(quarantine)
    if rows_in != rows_clean + rows_q:  # the invariant that proves nothing was dropped
        raise RiskOpsError(
            f"{src}: {rows_in} rows in but {rows_clean} clean + {rows_q} quarantined",
            "ingest",
            "this is a bug in riskops; please report it with the source schema",
        )
    return TableReport(
        source=src,
        clean_table=clean,
        quarantine_table=quarantine,
        rows_in=rows_in,
        rows_clean=rows_clean,
        rows_quarantined=rows_q,
        by_reason=_reason_counts(wh, quarantine) if rows_q else {},
        missing_optional=r.missing_optional,
        extra_columns=r.extras,
        examples=_examples(wh, quarantine) if rows_q else [],
    )


# What a mapping key fixes: the hint an error gives beside each quarantine reason (the rows' reason in the table).
FIXED_BY = {
    "unknown_direction": "`directions:` in the mapping (which source values mean in and out)",
    "unknown_currency": "`currencies:` in the mapping (the codes your book uses)",
    "unknown_label": "`labels:` in the mapping (which source values mean ACTIVE and SUSPENDED)",
    "missing_label": "`customers.columns.account_state` in the mapping (the column holding the outcome)",
    "absurd_amount": "`max_amount:` in the mapping",
    "unknown_customer": "the customer ids in both tables (`customers.columns.customer_id`, "
    "`transactions.columns.customer_id`)",
    "missing_ts": "`transactions.columns.ts` in the mapping",
    "missing_amount": "`transactions.columns.amount` in the mapping",
    "missing_signup_ts": "`customers.columns.signup_ts` in the mapping",
    "ts_after_as_of": "the as-of date (`--as-of`): the rows are after it",
    "signup_after_as_of": "the as-of date (`--as-of`): the customers signed up after it",
}


def reasons_said(table: TableReport, top: int = 3) -> str:
    """The commonest quarantine reasons with their counts and what fixes each (`numeric:` for a bad type)."""
    said = []
    for reason, n in sorted(table.by_reason.items(), key=lambda x: -x[1])[:top]:
        fix = FIXED_BY.get(reason) or (
            "`numeric:` in the mapping, or the values" if reason.startswith("bad_type:") else ""
        )
        said.append(f"{reason} x{n:,}" + (f" (set {fix})" if fix else ""))
    return "; ".join(said)


def _judge(wh: Warehouse, report: ValidationReport, tables: CleanTables, mapping: Mapping, labelled: bool) -> None:
    """Decide whether what is left can be used; fill labels, snapshot, warnings and errors."""
    c, t = report.customers, report.transactions
    if c.rows_clean == 0:
        why = (
            "the source table is empty"
            if c.rows_in == 0
            else f"all {c.rows_in:,} rows were quarantined: " + reasons_said(c)
        )
        report.errors.append(f"no usable customers in the {report.cohort} cohort: {why}")
    if t.rows_in == 0:  # an attributes-only book: the model learns from the customers' attributes alone
        report.warnings.append(
            f"no transactions in the {report.cohort} cohort: the transaction features are absent, the model uses "
            "the customers' attributes and tenure only"
        )
    elif t.rows_clean == 0:
        report.errors.append(
            f"no usable transactions in the {report.cohort} cohort: all {t.rows_in:,} rows were "
            f"quarantined: {reasons_said(t)}"
        )
    for name, table in (("customers", c), ("transactions", t)):
        share = table.rows_quarantined / table.rows_in if table.rows_in else 0.0
        if table.rows_clean and share > mapping.max_quarantine_share:
            report.errors.append(
                f"{share:.1%} of {name} were quarantined ({reasons_said(table)}), above the "
                f"{mapping.max_quarantine_share:.0%} limit (max_quarantine_share in the mapping file)"
            )
    if labelled and c.rows_clean:
        rows = wh.query(
            f"SELECT account_state AS s, COUNT(*) AS n FROM {wh.ref(tables.customers)} GROUP BY 1"
        ).to_pylist()
        report.labels = {r["s"]: int(r["n"]) for r in rows}
        for label in (LABEL_ACTIVE, LABEL_SUSPENDED):
            report.labels.setdefault(label, 0)
        if min(report.labels.values()) == 0:
            only = [k for k, v in report.labels.items() if v]
            report.errors.append(
                f"the labelled cohort has a single class ({', '.join(only)}): a model needs both ACTIVE and "
                "SUSPENDED customers (check the labels: mapping)"
            )
    if c.rows_clean and t.rows_clean:
        row = wh.query(
            f"""SELECT COUNT(*) AS n, SUM(amount) AS total, MIN(ts) AS first_ts, MAX(ts) AS last_ts,
                COUNT(DISTINCT customer_id) AS active_customers FROM {wh.ref(tables.transactions)}"""
        ).to_pylist()[0]
        report.customers_without_transactions = c.rows_clean - int(row["active_customers"])
        if report.customers_without_transactions:
            report.warnings.append(
                f"{report.customers_without_transactions:,} clean customers have no transactions before as_of"
            )
        snap = {
            "customers": c.rows_clean,
            "transactions": int(row["n"]),
            "amount_total": round(float(row["total"] or 0.0), 2),
            "first_ts": str(row["first_ts"]),
            "last_ts": str(row["last_ts"]),
        }
        snap["fingerprint"] = hashlib.sha256(json.dumps(snap, sort_keys=True).encode()).hexdigest()[:16]
        report.snapshot = snap
    if report.errors:
        report.status = "failed"
