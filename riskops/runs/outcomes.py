"""Outcomes as an append-only ledger: a loaded file adds to the table `outcomes`, never replaces it.

Each outcome is keyed by (customer, decision time, source): loading a file again adds nothing, and a file that
repeats what the ledger knows only adds what is new. A row that cannot be an outcome goes to the table
`outcomes_quarantine` with its reason, as ingest quarantines source rows, and the load says how many were
kept and quarantined:

- `blank_id`: no customer id;
- `unknown_state`: a state the mapping's labels do not turn into ACTIVE or SUSPENDED;
- `bad_time`: a decision time that does not read as an ISO 8601 time;
- `future_date`: decided after the moment of loading;
- `unknown_customer`: no customer of the book (either cohort's clean customers) has that id;
- `duplicate`: the same outcome given twice in the file (the first is kept);
- `conflicting`: one customer, time and source given two states in the file (neither is kept);
- `conflicts_with_ledger`: the ledger holds that customer, time and source with the other state.

Ids are text end to end: a CSV id `007` stays `007`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from riskops.core.errors import DataContractError
from riskops.core.names import ident
from riskops.data.contract import COHORTS, LABELS, Mapping, table_name
from riskops.io.warehouse.base import Warehouse

OUTCOMES = "outcomes"
QUARANTINE = "outcomes_quarantine"
KEY = "outcome_id"
COLUMNS = ("customer_id", "account_state", "decided_at")
_CHUNK = 1000  # rows per append: BigQuery writes them as literals in one statement


@dataclass(frozen=True)
class OutcomesLoad:
    """What one load did: rows new to the ledger, rows it already held, rows quarantined by reason."""

    path: str
    kept: int
    already: int
    quarantined: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        parts = [f"{self.kept:,} outcomes kept", f"{self.already:,} already loaded"]
        if self.quarantined:
            reasons = ", ".join(f"{r}: {n:,}" for r, n in sorted(self.quarantined.items()))
            parts.append(f"{sum(self.quarantined.values()):,} quarantined in `{QUARANTINE}` ({reasons})")
        return f"{self.path}: " + "; ".join(parts)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def outcome_key(customer_id: str, decided_at: pd.Timestamp, source: str) -> str:
    return _digest(customer_id, decided_at.isoformat(), source)


def load_outcomes(
    wh: Warehouse, path: Path, mapping: Mapping | None = None, now: datetime | None = None
) -> OutcomesLoad:
    """Append an outcomes file to the ledger through the mapping (its `outcomes` column names and its label
    values); rows that cannot be outcomes are quarantined with their reason. A file with no outcome at all
    (every row quarantined, none already known) is refused, as it is a wrong file or a wrong mapping."""
    rows = _read(path, mapping or Mapping())
    rows["reason"] = _reasons(wh, rows, now or datetime.now(UTC))
    known = _ledger_states(wh)
    good = rows["reason"].isna()
    held = rows["key"].map(known)
    rows.loc[good & held.notna() & held.ne(rows["account_state"]), "reason"] = "conflicts_with_ledger"
    already = int((rows["reason"].isna() & held.notna()).sum())
    new = rows[rows["reason"].isna() & held.isna()]
    bad = rows[rows["reason"].notna()]
    if new.empty and already == 0:
        top = bad["reason"].value_counts()
        raise DataContractError(
            f"no row is an outcome: {len(bad):,} rows quarantined ({', '.join(f'{r}: {n:,}' for r, n in top.items())})",
            str(path),
            "check the file against the mapping's `outcomes.columns` and `labels`, and that the book's "
            "customers are ingested in this warehouse",
        )
    _append(wh, QUARANTINE, _quarantine_rows(bad, path), "quarantine_id")
    kept = _append(wh, OUTCOMES, _ledger_rows(new), KEY)
    return OutcomesLoad(str(path), kept, already, {str(r): int(n) for r, n in bad["reason"].value_counts().items()})


def _read(path: Path, m: Mapping) -> pd.DataFrame:
    """The file's rows under contract names, as text, with their mapped state, parsed time and key."""
    from riskops.data.sources import read_source

    id_column = m.outcomes.columns.get("customer_id", "customer_id")
    source = read_source("outcomes", path, (id_column,))
    table = source if isinstance(source, pa.Table) else pa.concat_tables([pq.read_table(f) for f in source])
    missing = [m.outcomes.columns.get(c, c) for c in COLUMNS if m.outcomes.columns.get(c, c) not in table.column_names]
    if missing:
        raise DataContractError(
            f"columns {missing} are missing (it has {table.column_names})",
            str(path),
            f"give {', '.join(COLUMNS)} (and optionally source), or name the file's "
            "columns in the mapping's `outcomes.columns`",
        )
    data = table.to_pandas().rename(columns={src: name for name, src in m.outcomes.columns.items()})
    labels = {v.strip().lower(): label for label, values in m.labels.items() for v in values}
    rows = pd.DataFrame(index=data.index)
    rows["customer_id"] = data["customer_id"].map(lambda v: None if pd.isna(v) else str(v).strip())
    rows["state_given"] = data["account_state"].map(lambda v: "" if pd.isna(v) else str(v))
    rows["account_state"] = rows["state_given"].str.strip().str.lower().map(labels)
    rows["time_given"] = data["decided_at"].map(lambda v: "" if pd.isna(v) else str(v))
    rows["decided_at"] = pd.to_datetime(data["decided_at"], utc=True, errors="coerce", format="ISO8601")
    rows["source"] = data["source"].map(lambda v: "file" if pd.isna(v) else str(v)) if "source" in data else "file"
    rows["key"] = [
        outcome_key(c, t, s) if isinstance(c, str) and c and not pd.isna(t) else None
        for c, t, s in zip(rows["customer_id"], rows["decided_at"], rows["source"], strict=True)
    ]
    return rows


def _reasons(wh: Warehouse, rows: pd.DataFrame, now: datetime) -> pd.Series:
    """Each row's quarantine reason (the first that applies), or NaN for an outcome."""
    reason = pd.Series(None, index=rows.index, dtype=object)

    def mark(name: str, where: pd.Series) -> None:
        reason.loc[reason.isna() & where] = name

    mark("blank_id", rows["customer_id"].isna() | rows["customer_id"].eq(""))
    mark("unknown_state", ~rows["account_state"].isin(LABELS))
    mark("bad_time", rows["decided_at"].isna())
    mark("future_date", rows["decided_at"] > pd.Timestamp(now))
    mark("unknown_customer", ~rows["customer_id"].isin(_known_customers(wh, rows["customer_id"].dropna())))
    states = rows[reason.isna()].groupby("key")["account_state"].nunique()
    mark("conflicting", rows["key"].isin(states[states > 1].index))
    mark("duplicate", rows["key"].duplicated() & reason.isna())
    return reason


def _known_customers(wh: Warehouse, ids: pd.Series) -> set[str]:
    """Which of `ids` are customers of the book, asked of the warehouse (not read whole into memory)."""
    tables = [table_name(c, "customers") for c in COHORTS if wh.exists(table_name(c, "customers"))]
    if not tables:
        raise DataContractError(
            "no customers are ingested in this warehouse, so no outcome can be matched to a customer",
            "the warehouse's labelled_customers / unlabelled_customers tables",
            "ingest the book first (`riskops run` or `riskops ingest`), or pass the run's warehouse (--duckdb)",
        )
    stage = "_staging_outcome_ids"
    wh.load(stage, pa.table({"customer_id": pa.array(sorted(set(ids)), pa.string())}))
    try:
        book = " UNION ALL ".join(f"SELECT CAST(customer_id AS STRING) AS customer_id FROM {wh.ref(t)}" for t in tables)
        found = wh.query(f"SELECT s.customer_id FROM {wh.ref(stage)} AS s WHERE s.customer_id IN ({book})")
    finally:
        wh.drop(stage)
    return set(found.column("customer_id").to_pylist())


def _ledger_states(wh: Warehouse) -> dict[str, str]:
    """The ledger's state per key. A ledger from before keys (a table replaced by each load) gets its keys."""
    if not wh.exists(OUTCOMES):
        return {}
    if KEY not in wh.columns(OUTCOMES):
        old = wh.read_table(OUTCOMES).to_pandas()
        old["customer_id"] = old["customer_id"].astype(str)
        old["decided_at"] = pd.to_datetime(old["decided_at"], utc=True)
        old["source"] = old["source"].astype(str) if "source" in old else "file"
        old["key"] = [outcome_key(*r) for r in zip(old["customer_id"], old["decided_at"], old["source"], strict=True)]
        wh.load(OUTCOMES, _ledger_rows(old.drop_duplicates("key")))
    held = wh.query(f"SELECT {ident(KEY)}, account_state FROM {wh.ref(OUTCOMES)}")
    return dict(zip(held.column(KEY).to_pylist(), held.column("account_state").to_pylist(), strict=True))


def _ledger_rows(rows: pd.DataFrame) -> pa.Table:
    return pa.table(
        {
            KEY: pa.array(rows["key"].tolist(), pa.string()),
            "customer_id": pa.array(rows["customer_id"].tolist(), pa.string()),
            "account_state": pa.array(rows["account_state"].tolist(), pa.string()),
            "decided_at": pa.array(rows["decided_at"].tolist(), pa.timestamp("us", tz="UTC")),
            "source": pa.array(rows["source"].astype(str).tolist(), pa.string()),
        }
    )


def _quarantine_rows(rows: pd.DataFrame, path: Path) -> pa.Table:
    """The rows as they came (as text) with their reason; keyed so that loading a file twice adds nothing."""
    ids = rows["customer_id"].fillna("").astype(str)
    given = zip(
        rows.index.astype(str),
        ids,
        rows["state_given"],
        rows["time_given"],
        rows["source"],
        rows["reason"],
        strict=True,
    )
    keys = [_digest(path.name, *values) for values in given]
    return pa.table(
        {
            "quarantine_id": pa.array(keys, pa.string()),
            "customer_id": pa.array([v if isinstance(v, str) else None for v in rows["customer_id"]], pa.string()),
            "account_state": pa.array(rows["state_given"].tolist(), pa.string()),
            "decided_at": pa.array(rows["time_given"].tolist(), pa.string()),
            "source": pa.array(rows["source"].astype(str).tolist(), pa.string()),
            "quarantine_reason": pa.array(rows["reason"].tolist(), pa.string()),
            "file": pa.array([path.name] * len(rows), pa.string()),
        }
    )


def _append(wh: Warehouse, name: str, rows: pa.Table, key: str) -> int:
    """Append in chunks; each is idempotent by `key`, so a load cut short is finished by loading again."""
    return sum(wh.append_new(name, rows.slice(i, _CHUNK), key) for i in range(0, rows.num_rows, _CHUNK))
