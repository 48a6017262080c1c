"""The warehouse interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import pyarrow as pa

# BigQuery type families: a source column of a family can be cast to the contract type row by row.
TYPE_FAMILIES = {
    "STRING": "string",
    "BYTES": "bytes",
    "INT64": "number",
    "FLOAT64": "number",
    "NUMERIC": "number",
    "BIGNUMERIC": "number",
    "BOOL": "bool",
    "TIMESTAMP": "time",
    "DATETIME": "time",
    "DATE": "time",
}


class Warehouse(ABC):
    """Load tables, run BigQuery-dialect SQL, read results as Arrow."""

    backend: str

    @abstractmethod
    def ref(self, name: str) -> str:
        """The table's name as it must appear in BigQuery-dialect SQL."""

    @abstractmethod
    def exists(self, name: str) -> bool: ...

    @abstractmethod
    def columns(self, name: str) -> dict[str, str]:
        """Column name -> BigQuery type (STRING, INT64, FLOAT64, BOOL, TIMESTAMP, ...), in table order."""

    @abstractmethod
    def load(self, name: str, source: pa.Table | Sequence[Path]) -> int:
        """Replace table `name` with an Arrow table or Parquet files; returns the row count."""

    def load_all(self, sources: Mapping[str, pa.Table | Sequence[Path]]) -> dict[str, int]:
        """Replace several tables all together or not at all: each source is loaded into a staging table
        first, and only when every one has loaded are the targets replaced (`_swap`); a failure leaves every
        target as it was. Returns the row counts."""
        staged: dict[str, str] = {}
        try:
            counts = {}
            for name, source in sources.items():
                staged[name] = f"_staging_{name}"[:128]
                counts[name] = self.load(staged[name], source)
            self._swap(staged)
        finally:
            for stage in staged.values():
                self.drop(stage)
        return counts

    def _swap(self, staged: Mapping[str, str]) -> None:
        """Make each target a copy of its staging table (BigQuery copies server-side)."""
        for name, stage in staged.items():
            self.execute(f"CREATE OR REPLACE TABLE {self.ref(name)} AS SELECT * FROM {self.ref(stage)}")

    def shard_predicate(self, column: str, shards: int, shard: int) -> str:
        """BigQuery-dialect SQL true for the rows whose `column` (a quoted name) hashes to `shard` of `shards`:
        FARM_FINGERPRINT, stable and spread evenly, on BigQuery; a backend without it overrides this."""
        return f"MOD(ABS(FARM_FINGERPRINT({column})), {int(shards)}) = {int(shard)}"

    @abstractmethod
    def execute(self, sql: str) -> None:
        """Run one BigQuery-dialect statement (DDL, DML, CREATE TABLE AS SELECT)."""

    @abstractmethod
    def append_new(self, name: str, rows: pa.Table, key: str) -> int:
        """Append the rows whose `key` is not in table `name` yet (creating it from the rows' schema when it does
        not exist), in one statement: appending the same rows again changes nothing, so a retried or redelivered
        write is harmless. Returns how many rows were new. The rows' keys must be unique among themselves."""

    @abstractmethod
    def derive(self, name: str, select_sql: str) -> None:
        """Make `name` hold the result of a BigQuery-dialect SELECT over this warehouse's tables.

        BigQuery materializes a table (its sources are live tables that keep changing). DuckDB creates a
        view: its sources are the run's own loaded snapshot, and copying 20M rows costs more than
        validating them (docs/decisions/0002-clean-tables-as-views-on-duckdb.md).
        """

    @abstractmethod
    def query(self, sql: str) -> pa.Table:
        """Run a BigQuery-dialect SELECT and return its rows. For large results use `read_table`."""

    @abstractmethod
    def rows_where(self, name: str, column: str, value: str) -> pa.Table:
        """The rows of table `name` whose text `column` equals `value`, the value passed as a query parameter
        (never written into the SQL)."""

    @abstractmethod
    def read_table(self, name: str, columns: Sequence[str] | None = None) -> pa.Table:
        """Read a whole table (the fast path: DuckDB's Arrow export, BigQuery's Storage Read API)."""

    @abstractmethod
    def drop(self, name: str) -> None: ...

    def count(self, name: str) -> int:
        return int(self.query(f"SELECT COUNT(*) AS n FROM {self.ref(name)}").column("n")[0].as_py())

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
