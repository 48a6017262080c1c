"""BigQuery backend: the real google-cloud-bigquery client; large reads through the Storage Read API."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from google.api_core import exceptions as gexc
from google.cloud import bigquery
from sqlglot import exp

from riskops.core.config import Settings
from riskops.core.errors import ConfigError, WarehouseError
from riskops.core.names import check_column, check_table, ident, table_path
from riskops.io.warehouse.base import Warehouse


def _bq_field(field: pa.Field) -> bigquery.SchemaField:
    t = field.type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        kind = "STRING"
    elif pa.types.is_boolean(t):
        kind = "BOOL"
    elif pa.types.is_integer(t):
        kind = "INT64"
    elif pa.types.is_floating(t):
        kind = "FLOAT64"
    elif pa.types.is_decimal(t):
        kind = "NUMERIC"
    elif pa.types.is_timestamp(t):
        kind = "TIMESTAMP" if t.tz else "DATETIME"
    elif pa.types.is_date(t):
        kind = "DATE"
    elif pa.types.is_binary(t):
        kind = "BYTES"
    else:
        raise WarehouseError(
            f"column {field.name} has Arrow type {t}, which has no BigQuery equivalent here",
            "BigQueryWarehouse.load",
            "cast it to a string, number, bool or timestamp first",
        )
    return bigquery.SchemaField(field.name, kind, mode="NULLABLE")


_PLAIN = re.compile(r"[A-Za-z0-9 _@:+,./-]*")


def _literal(value: Any) -> Any:
    """A Python value as a SQL literal (timestamps as ISO strings the CAST reads). A string with anything but
    plain characters travels base64-encoded: no quote or backslash of it ever reaches the statement, and no
    dialect's escaping rules (the emulator's differ from BigQuery's) are relied on."""
    if isinstance(value, datetime):
        value = value.isoformat()
    if isinstance(value, str) and not _PLAIN.fullmatch(value):
        encoded = base64.b64encode(value.encode()).decode()
        return exp.func(
            "SAFE_CONVERT_BYTES_TO_STRING",
            exp.func("FROM_BASE64", exp.Literal.string(encoded), dialect="bigquery"),
            dialect="bigquery",
        )
    return exp.convert(value)


class BigQueryWarehouse(Warehouse):
    backend = "bigquery"

    def __init__(self, client: bigquery.Client, dataset: str, location: str = "EU", storage_client: Any = None) -> None:
        self.client = client
        self.dataset = f"{client.project}.{dataset}"
        self.storage_client = storage_client
        ds = bigquery.Dataset(self.dataset)
        ds.location = location
        self.client.create_dataset(ds, exists_ok=True)

    @classmethod
    def from_settings(cls, settings: Settings) -> BigQueryWarehouse:
        if not settings.bq_project:
            raise ConfigError(
                "no BigQuery project configured",
                "RISKOPS_BQ_PROJECT",
                "set it, or use RISKOPS_WAREHOUSE=duckdb",
            )
        kwargs: dict[str, Any] = {"project": settings.bq_project}
        storage = None
        if settings.bq_endpoint:
            # An emulator: no credentials, plaintext gRPC for the Storage Read API.
            import grpc
            from google.auth.credentials import AnonymousCredentials
            from google.cloud import bigquery_storage_v1
            from google.cloud.bigquery_storage_v1.services.big_query_read.transports import (
                BigQueryReadGrpcTransport,
            )

            kwargs |= {
                "credentials": AnonymousCredentials(),
                "client_options": {"api_endpoint": settings.bq_endpoint},
            }
            if settings.bq_storage_endpoint:
                channel = grpc.insecure_channel(settings.bq_storage_endpoint)
                storage = bigquery_storage_v1.BigQueryReadClient(transport=BigQueryReadGrpcTransport(channel=channel))
        else:
            from google.cloud import bigquery_storage_v1

            storage = bigquery_storage_v1.BigQueryReadClient()
        client = bigquery.Client(**kwargs)
        return cls(client, settings.bq_dataset, settings.bq_location, storage)

    def _id(self, name: str) -> str:
        return f"{self.dataset}.{check_table(name)}"

    def ref(self, name: str) -> str:
        return table_path(self.dataset, name)

    def exists(self, name: str) -> bool:
        try:
            self.client.get_table(self._id(name))
            return True
        except gexc.NotFound:
            return False

    def columns(self, name: str) -> dict[str, str]:
        try:
            table = self.client.get_table(self._id(name))
        except gexc.NotFound as e:
            raise WarehouseError(f"table {name} does not exist", self.dataset, "load it first") from e
        alias = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}
        return {f.name: alias.get(f.field_type, f.field_type) for f in table.schema}

    def load(self, name: str, source: pa.Table | Sequence[Path]) -> int:
        schema = source.schema if isinstance(source, pa.Table) else pq.read_schema(source[0])
        table_id = self._id(name)
        # Create with an explicit schema and append: works on BigQuery and on emulators alike.
        self.client.delete_table(table_id, not_found_ok=True)
        self.client.create_table(bigquery.Table(table_id, schema=[_bq_field(f) for f in schema]))
        config = bigquery.LoadJobConfig(source_format=bigquery.SourceFormat.PARQUET, write_disposition="WRITE_APPEND")
        try:
            if isinstance(source, pa.Table):
                import io

                buf = io.BytesIO()
                pq.write_table(source, buf)
                buf.seek(0)
                self.client.load_table_from_file(buf, table_id, job_config=config).result()
            else:
                for path in source:
                    with open(path, "rb") as fh:
                        self.client.load_table_from_file(fh, table_id, job_config=config).result()
        except gexc.GoogleAPICallError as e:
            self.client.delete_table(table_id, not_found_ok=True)  # never leave a half-loaded table
            raise WarehouseError(f"BigQuery load into {name} failed: {e}", table_id, "check the source files") from e
        return self.count(name)

    def execute(self, sql: str) -> None:
        try:
            self.client.query(sql).result()
        except gexc.GoogleAPICallError as e:
            raise WarehouseError(f"BigQuery refused a statement: {e}", sql[:300], "see the SQL above") from e

    def append_new(self, name: str, rows: pa.Table, key: str) -> int:
        """One DML statement with the rows as literals (no load job per call: load jobs have a daily quota a
        stream would exhaust); sqlglot writes the literals, so a value can never end the statement."""
        table_id = self._id(name)
        self.client.create_table(bigquery.Table(table_id, schema=[_bq_field(f) for f in rows.schema]), exists_ok=True)
        if rows.num_rows == 0:
            return 0
        columns = [_bq_field(f) for f in rows.schema]
        aliases = {c.name: exp.to_identifier(check_column(c.name), quoted=True) for c in columns}
        selects = []
        for record in rows.to_pylist():
            values = [
                exp.alias_(exp.cast(_literal(record[c.name]), c.field_type, dialect="bigquery"), aliases[c.name])
                for c in columns
            ]
            selects.append(exp.select(*values))
        union = selects[0] if len(selects) == 1 else exp.union(*selects, distinct=False)
        k = ident(key)
        listed = ", ".join(ident(c.name) for c in columns)
        # MERGE, not INSERT ... WHERE NOT EXISTS: BigQuery runs INSERTs into one table concurrently (two could both
        # find the key absent), while MERGE is a mutating statement, serialised per table: a second one sees the
        # first's row or fails with a concurrent-update error, never appends the key twice.
        sql = (
            f"MERGE {self.ref(name)} AS t USING ({union.sql(dialect='bigquery')}) AS s ON t.{k} = s.{k} "
            f"WHEN NOT MATCHED THEN INSERT ({listed}) VALUES ({', '.join(f's.{ident(c.name)}' for c in columns)})"
        )
        try:
            job = self.client.query(sql)
            job.result()
        except gexc.GoogleAPICallError as e:
            raise WarehouseError(
                f"BigQuery could not append to {name}: {e}", table_id, "check the table's columns against the rows'"
            ) from e
        return int(job.num_dml_affected_rows or 0)

    def derive(self, name: str, select_sql: str) -> None:
        self.execute(f"CREATE OR REPLACE TABLE {self.ref(name)} AS {select_sql}")

    def query(self, sql: str) -> pa.Table:
        try:
            return self.client.query(sql).result().to_arrow(create_bqstorage_client=False)
        except gexc.GoogleAPICallError as e:
            raise WarehouseError(f"BigQuery refused a query: {e}", sql[:300], "see the SQL above") from e

    def rows_where(self, name: str, column: str, value: str) -> pa.Table:
        sql = f"SELECT * FROM {self.ref(name)} WHERE {ident(column)} = @value"
        config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("value", "STRING", value)])
        try:
            return self.client.query(sql, job_config=config).result().to_arrow(create_bqstorage_client=False)
        except gexc.GoogleAPICallError as e:
            raise WarehouseError(
                f"BigQuery could not read {name}: {e}", self._id(name), f"check that {name} exists (run its step)"
            ) from e

    def read_table(self, name: str, columns: Sequence[str] | None = None) -> pa.Table:
        table = self.client.get_table(self._id(name))
        fields = [f for f in table.schema if columns is None or f.name in columns]
        rows = self.client.list_rows(table, selected_fields=fields)
        if self.storage_client is not None:
            return rows.to_arrow(bqstorage_client=self.storage_client)
        return rows.to_arrow(create_bqstorage_client=False)

    def drop(self, name: str) -> None:
        self.client.delete_table(self._id(name), not_found_ok=True)

    def close(self) -> None:
        self.client.close()
