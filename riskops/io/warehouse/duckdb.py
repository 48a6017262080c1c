"""DuckDB backend: a single file, BigQuery SQL transpiled by sqlglot."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import duckdb
import pyarrow as pa
import sqlglot

from riskops.core.errors import WarehouseError
from riskops.core.names import ident, table_ident
from riskops.io.warehouse.base import Warehouse

log = logging.getLogger(__name__)

_DUCK_TO_BQ = {
    "VARCHAR": "STRING",
    "BLOB": "BYTES",
    "BOOLEAN": "BOOL",
    "TINYINT": "INT64",
    "SMALLINT": "INT64",
    "INTEGER": "INT64",
    "BIGINT": "INT64",
    "HUGEINT": "INT64",
    "UTINYINT": "INT64",
    "USMALLINT": "INT64",
    "UINTEGER": "INT64",
    "UBIGINT": "INT64",
    "FLOAT": "FLOAT64",
    "DOUBLE": "FLOAT64",
    "DATE": "DATE",
    "TIMESTAMP": "DATETIME",
    "TIMESTAMP_NS": "DATETIME",
    "TIMESTAMP_MS": "DATETIME",
    "TIMESTAMP_S": "DATETIME",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
}


@lru_cache(maxsize=512)
def to_duckdb(sql: str) -> str:
    """Transpile one BigQuery-dialect statement to DuckDB."""
    try:
        out = sqlglot.transpile(sql, read="bigquery", write="duckdb")
    except sqlglot.errors.ParseError as e:
        raise WarehouseError(f"SQL does not parse as BigQuery SQL: {e}", sql[:200], "fix the statement") from e
    if len(out) != 1:
        raise WarehouseError(f"expected one statement, got {len(out)}", sql[:200], "send statements one by one")
    return out[0]


def _bq_type(duck_type: str) -> str:
    if duck_type.startswith("DECIMAL"):
        return "NUMERIC"
    return _DUCK_TO_BQ.get(duck_type, duck_type)


# One writer per file at a time for `append_new` within this process: two connections to one DuckDB file in one
# process both see "no such key" under MVCC and both insert (two confirmations of one decision landed so).
_APPEND_LOCKS: dict[str, threading.Lock] = {}
_APPEND_LOCKS_GUARD = threading.Lock()


def _append_lock(path: object) -> threading.Lock:
    with _APPEND_LOCKS_GUARD:
        return _APPEND_LOCKS.setdefault(str(path), threading.Lock())


LOCK_WAIT_S = 600.0  # how long a process waits for another's hold on the file (parallel local tasks take turns)


# DuckDB shares one database instance per file among a process's connections; opening one while another thread
# closes the last connection to the same file can fail ("Unique file handle conflict"), so a process opens and
# closes its connections one at a time (the service's and the review's threads each hold their own).
_OPEN_CLOSE = threading.Lock()


def _connect(path: str) -> duckdb.DuckDBPyConnection:
    """Open the file, waiting while another process holds it: DuckDB allows one writing process per file, and the
    tasks of a local pipeline run (the scoring shards) may run at the same time. BigQuery has no such limit."""
    deadline = time.monotonic() + LOCK_WAIT_S
    pause = 0.05
    while True:
        try:
            with _OPEN_CLOSE:
                return duckdb.connect(path)
        except duckdb.IOException as e:
            if "lock" not in str(e).lower() or time.monotonic() > deadline:
                raise
            log.debug("waiting for the lock on %s", path)
            time.sleep(pause)
            pause = min(pause * 2, 1.0)


class DuckDBWarehouse(Warehouse):
    backend = "duckdb"

    def __init__(self, path: Path | str, memory_limit: str = "3GB", threads: int | None = None) -> None:
        self.path = Path(path) if str(path) != ":memory:" else path
        if isinstance(self.path, Path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = _connect(str(path))
        # UTC so TIMESTAMP casts never depend on the machine's zone; no insertion order keeps memory flat.
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute(f"SET memory_limit = '{memory_limit}'")
        self.con.execute("SET preserve_insertion_order = false")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")

    def shard_predicate(self, column: str, shards: int, shard: int) -> str:
        # DuckDB has no FARM_FINGERPRINT; its HASH is an unsigned 64-bit hash, stable for a given DuckDB version.
        return f"MOD(HASH({column}), {int(shards)}) = {int(shard)}"

    def ref(self, name: str) -> str:
        return f"main.{table_ident(name)}"

    def exists(self, name: str) -> bool:
        row = self.con.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?",
            [name],
        ).fetchone()
        return bool(row and row[0])

    def columns(self, name: str) -> dict[str, str]:
        if not self.exists(name):
            raise WarehouseError(f"table {name} does not exist", f"DuckDB file {self.path}", "load it first")
        rows = self.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
            [name],
        ).fetchall()
        return {r[0]: _bq_type(r[1]) for r in rows}

    def load(self, name: str, source: pa.Table | Sequence[Path]) -> int:
        if isinstance(source, pa.Table):
            self.con.register("_riskops_src", source)
            try:
                target = table_ident(name, "duckdb")
                self.con.execute(f"CREATE OR REPLACE TABLE main.{target} AS SELECT * FROM _riskops_src")
            finally:
                self.con.unregister("_riskops_src")
        else:
            files = [str(p) for p in source]
            if not files:
                raise WarehouseError(f"no Parquet files to load into {name}", "load()", "check the source folder")
            try:
                self.con.execute(
                    f"CREATE OR REPLACE TABLE main.{table_ident(name, 'duckdb')} "
                    "AS SELECT * FROM read_parquet(?, union_by_name = true)",
                    [files],
                )
            except duckdb.Error as e:
                where = files[0] if len(files) == 1 else f"{len(files)} files from {files[0]}"
                raise WarehouseError(
                    f"DuckDB could not read the Parquet data for {name}: {e}",
                    where,
                    "re-export the file(s); nothing was replaced",
                ) from e
        return self.count(name)

    def _swap(self, staged: Mapping[str, str]) -> None:
        """Rename the staging tables onto their targets in one transaction: no copy, and all or nothing."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            for name, stage in staged.items():
                self.drop(name)
                self.con.execute(
                    f"ALTER TABLE main.{table_ident(stage, 'duckdb')} RENAME TO {table_ident(name, 'duckdb')}"
                )
            self.con.execute("COMMIT")
        except duckdb.Error as e:
            self.con.execute("ROLLBACK")
            raise WarehouseError(f"DuckDB could not replace {list(staged)}: {e}", "load", "nothing was changed") from e

    def execute(self, sql: str) -> None:
        try:
            self.con.execute(to_duckdb(sql))
        except duckdb.Error as e:
            raise WarehouseError(f"DuckDB refused a statement: {e}", sql[:300], "see the SQL above") from e

    def append_new(self, name: str, rows: pa.Table, key: str) -> int:
        target, k = f"main.{table_ident(name, 'duckdb')}", ident(key, "duckdb")
        self.con.register("_riskops_rows", rows)
        try:
            with _append_lock(self.path):  # check and insert as one step (another process cannot hold the file)
                self.con.execute(f"CREATE TABLE IF NOT EXISTS {target} AS SELECT * FROM _riskops_rows LIMIT 0")
                row = self.con.execute(
                    f"INSERT INTO {target} BY NAME SELECT * FROM _riskops_rows AS s "
                    f"WHERE NOT EXISTS (SELECT 1 FROM {target} AS t WHERE t.{k} = s.{k})"
                ).fetchone()
        except duckdb.Error as e:
            raise WarehouseError(
                f"DuckDB could not append to {name}: {e}",
                f"DuckDB file {self.path}",
                "check the table's columns against the rows'",
            ) from e
        finally:
            self.con.unregister("_riskops_rows")
        return int(row[0]) if row else 0

    def derive(self, name: str, select_sql: str) -> None:
        self.drop(name)
        self.execute(f"CREATE VIEW {self.ref(name)} AS {select_sql}")

    def query(self, sql: str) -> pa.Table:
        try:
            return self.con.execute(to_duckdb(sql)).to_arrow_table()
        except duckdb.Error as e:
            raise WarehouseError(f"DuckDB refused a query: {e}", sql[:300], "see the SQL above") from e

    def rows_where(self, name: str, column: str, value: str) -> pa.Table:
        sql = f"SELECT * FROM main.{table_ident(name, 'duckdb')} WHERE {ident(column, 'duckdb')} = ?"
        try:
            return self.con.execute(sql, [value]).to_arrow_table()
        except duckdb.Error as e:
            raise WarehouseError(
                f"DuckDB could not read {name}: {e}",
                f"DuckDB file {self.path}",
                f"check that {name} exists (run its step)",
            ) from e

    def read_table(self, name: str, columns: Sequence[str] | None = None) -> pa.Table:
        cols = ", ".join(ident(c, "duckdb") for c in columns) if columns else "*"
        return self.con.execute(f"SELECT {cols} FROM main.{table_ident(name, 'duckdb')}").to_arrow_table()

    def drop(self, name: str) -> None:
        row = self.con.execute(
            "SELECT table_type FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?",
            [name],
        ).fetchone()
        if row:
            kind = "VIEW" if row[0] == "VIEW" else "TABLE"
            self.con.execute(f"DROP {kind} main.{table_ident(name, 'duckdb')}")

    def close(self) -> None:
        with _OPEN_CLOSE:
            self.con.close()
