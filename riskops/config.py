"""One settings object for the whole product: embedded defaults locally, GCP by environment alone.

Every field can be set with an environment variable prefixed ``RISKOPS_`` (e.g. ``RISKOPS_WAREHOUSE=bigquery``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from riskops.errors import ConfigError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RISKOPS_", extra="ignore")

    environment: Literal["development", "production"] = "development"

    # Where runs keep their local working files (DuckDB file, reports) and, by default, artifacts.
    home: Path = Path("runs")
    artifact_root: str = Field(default="", description="Local folder or gs://bucket/prefix; default: home")
    gcs_endpoint: str | None = Field(default=None, description="Override the GCS API endpoint (emulators)")

    image: str = Field(default="riskops:dev", description="Container image the pipeline components run in")

    # The scoring service.
    api_key_hashes: str = Field(default="", description="comma-separated SHA-256 hex digests of accepted keys")
    root_path: str = Field(default="", description="path prefix the service is served under, e.g. /ai")
    model_poll_s: float = Field(default=30.0, gt=0, description="how often the service looks for a new champion")
    prediction_log: Literal["jsonl", "bigquery"] = Field(
        default="jsonl", description="where scored requests are logged: <home>/predictions or <bq_dataset>.predictions"
    )
    log_level: str = Field(default="INFO", description="service log level; logs are JSON lines on stderr")
    access_log: bool = Field(default=True, description="one log line per API request (probes and /metrics excluded)")

    warehouse: Literal["duckdb", "bigquery"] = "duckdb"
    duckdb_path: Path | None = Field(default=None, description="DuckDB file; default: <run folder>/warehouse.duckdb")
    duckdb_memory_limit: str = "3GB"
    duckdb_threads: int | None = None

    bq_project: str | None = None
    bq_dataset: str = "riskops"
    bq_location: str = "EU"
    bq_endpoint: str | None = Field(default=None, description="Override the BigQuery REST endpoint (emulators)")
    bq_storage_endpoint: str | None = Field(
        default=None, description="host:port of a plaintext Storage Read API (emulators); default: Google's"
    )

    @model_validator(mode="after")
    def _production_is_explicit(self) -> Settings:
        if self.environment == "production":
            if self.warehouse == "bigquery" and not self.bq_project:
                raise ConfigError(
                    "RISKOPS_BQ_PROJECT is not set",
                    "settings (environment=production, warehouse=bigquery)",
                    "set RISKOPS_BQ_PROJECT to the GCP project that holds the dataset",
                )
            if self.bq_endpoint or self.gcs_endpoint:
                raise ConfigError(
                    "an emulator endpoint is set in production",
                    "RISKOPS_BQ_ENDPOINT / RISKOPS_GCS_ENDPOINT",
                    "unset them; production talks to Google's APIs",
                )
        return self

    @property
    def artifacts(self) -> str:
        return self.artifact_root or str(self.home)
