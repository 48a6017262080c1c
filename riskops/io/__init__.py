"""Where data and artifacts live: the warehouse backends (DuckDB, BigQuery) and the artifact store."""
