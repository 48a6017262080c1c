"""One settings object for the whole product: embedded defaults locally, GCP by environment alone.

Every field can be set with an environment variable prefixed ``RISKOPS_`` (e.g. ``RISKOPS_WAREHOUSE=bigquery``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from riskops.core.errors import ConfigError


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RISKOPS_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    model_approval: Literal["", "required", "off"] = Field(
        default="",
        description="required: a model decides only once a validator other than its registering person approved "
        "it (four eyes); default: required in production, off elsewhere",
    )

    # Where runs keep their local working files (DuckDB file, reports) and, by default, artifacts.
    home: Path = Path("runs")
    book: str = Field(
        default="",
        description="the book (a portfolio: synthetic, amlsim, credit, a bank's folder) this process works on: "
        "its runs, registry and champion live under <home>/books/<book> (and <artifact_root>/books/<book>); "
        "default: the book of the last local run (Settings.load), else home itself",
    )
    artifact_root: str = Field(default="", description="Local folder or gs://bucket/prefix; default: home")
    gcs_endpoint: str | None = Field(default=None, description="Override the GCS API endpoint (emulators)")

    image: str = Field(default="riskops:dev", description="Container image the pipeline components run in")

    # The scoring service.
    api_key_hashes: str = Field(default="", description="comma-separated SHA-256 hex digests of accepted keys")
    reviewer_key_hashes: str = Field(
        default="",
        description="digests of the keys (the console's) whose callers may read and record review "
        "decisions in the name of the staff member they assert; each must also be in api_key_hashes",
    )
    root_path: str = Field(default="", description="path prefix the service is served under, e.g. /ai")
    model_poll_s: float = Field(default=30.0, gt=0, description="how often the service looks for a new champion")
    prediction_log: Literal["jsonl", "bigquery"] = Field(
        default="jsonl", description="where scored requests are logged: <home>/predictions or <bq_dataset>.predictions"
    )
    pseudonym_keys: SecretStr = Field(
        default=SecretStr(""),
        description="KEY_ID:SECRET[,OLD_ID:OLD_SECRET...]: HMAC keys for customer pseudonyms in the prediction log; "
        "the first signs, the others stay for joins across a rotation (required in production)",
    )
    log_level: str = Field(default="INFO", description="service log level; logs are JSON lines on stderr")
    access_log: bool = Field(default=True, description="one log line per API request (probes and /metrics excluded)")

    # The risk console (console/): reads customers and records decisions through the service, nothing else.
    console_service_url: str = Field(default="http://127.0.0.1:8000", description="the scoring service it reads")
    console_api_key: SecretStr = Field(default=SecretStr(""), description="its key for the scoring service")
    console_identity: Literal["local", "iap"] = Field(
        default="local", description="local: sign in against the users file; iap: the proxy's signed header"
    )
    console_iap_audience: str = Field(
        default="", description="IAP's audience for the console: /projects/NUMBER/global/backendServices/ID"
    )
    console_iap_keys_url: str = Field(
        default="https://www.gstatic.com/iap/verify/public_key-jwk", description="IAP's public keys (JWK set)"
    )
    console_users: Path = Field(default=Path("configs/console-users.yaml"), description="users and their roles")
    console_session_secret: SecretStr = Field(
        default=SecretStr("development-only"), description="signs the console's session cookie and form tokens"
    )

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

    @model_validator(mode="after")
    def _book_is_a_namespace(self) -> Settings:
        """A named book moves home and the artifact root into its own folder, so each book has its own registry
        and champion; the fields then hold the book's paths (every reader sees the same ones)."""
        if self.book:
            check_book(self.book)
            self.home = self.home / BOOKS / self.book
            if self.artifact_root:
                self.artifact_root = f"{self.artifact_root.rstrip('/')}/{BOOKS}/{self.book}"
        return self

    @classmethod
    def load(cls, **overrides: Any) -> Settings:
        """The settings from the environment, in the book named by RISKOPS_BOOK or `book=`, else the book the last
        local run worked on (`<home>/books/current`, written by `remember_book`), else home itself."""
        settings = cls(**overrides)
        if settings.book:
            return settings
        current = settings.home / BOOKS / CURRENT
        name = current.read_text(encoding="utf-8").strip() if current.is_file() else ""
        return cls(**overrides, book=name) if name else settings

    @property
    def artifacts(self) -> str:
        return self.artifact_root or str(self.home)

    @property
    def approval_required(self) -> bool:
        if self.model_approval:
            return self.model_approval == "required"
        return self.environment == "production"


BOOKS = "books"  # <home>/books/<book>: one namespace per book
CURRENT = "current"  # <home>/books/current: the book the last local run worked on
_BOOK = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_book(name: str) -> str:
    """A book's name becomes a folder: letters, digits, dot, dash and underscore, nothing that climbs out."""
    if not _BOOK.fullmatch(name) or ".." in name or name == CURRENT:
        raise ConfigError(
            f"book name {name!r} cannot be used",
            "RISKOPS_BOOK / --book",
            "use 1-64 letters, digits, '.', '-' or '_', starting with a letter or digit (not 'current')",
        )
    return name


def book_name(data: str) -> str:
    """The book a run's `--data` names: the embedded source's name, or the folder's name made safe."""
    stem = Path(data.rstrip("/")).expanduser().name or "book"
    stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()  # Überweisung -> Uberweisung
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.") or "book"
    return check_book(safe[:64])


def remember_book(settings: Settings) -> None:
    """Record the settings' book as the one later commands (models, runs, score, serve, console) work on."""
    if settings.book:
        current = settings.home.parent / CURRENT  # home is <root>/books/<book>
        current.parent.mkdir(parents=True, exist_ok=True)
        current.write_text(settings.book + "\n", encoding="utf-8")


class StepConfig(BaseModel):
    """Where a pipeline step finds the warehouse and the artifact store: the whole of its configuration.

    It travels in the compiled pipeline spec as the `config` parameter (defaults written at compile time from
    the settings), so a step in its own pod needs nothing else. `check` refuses an incomplete one instead of
    falling back to a local default.
    """

    model_config = ConfigDict(extra="forbid")

    warehouse: Literal["duckdb", "bigquery"]
    artifact_root: str
    duckdb_path: str = ""
    bq_project: str = ""
    bq_dataset: str = "riskops"
    bq_location: str = "EU"
    bq_endpoint: str = ""
    bq_storage_endpoint: str = ""
    gcs_endpoint: str = ""
    model_approval: bool = False  # four eyes before a model decides (Settings.approval_required)

    @classmethod
    def from_settings(cls, settings: Settings, duckdb_path: Path | str | None = None) -> StepConfig:
        """The settings as a step configuration; a local folder root becomes absolute (steps have their own cwd)."""
        root = settings.artifacts
        if not root.startswith("gs://"):
            root = str(Path(root).resolve())
        duck = duckdb_path or settings.duckdb_path
        return cls(
            warehouse=settings.warehouse,
            artifact_root=root,
            duckdb_path=str(Path(duck).resolve()) if duck and settings.warehouse == "duckdb" else "",
            bq_project=settings.bq_project or "",
            bq_dataset=settings.bq_dataset,
            bq_location=settings.bq_location,
            bq_endpoint=settings.bq_endpoint or "",
            bq_storage_endpoint=settings.bq_storage_endpoint or "",
            gcs_endpoint=settings.gcs_endpoint or "",
            model_approval=settings.approval_required,
        )

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> StepConfig:
        """A step's `config` parameter, checked: what is missing is named, nothing is defaulted."""
        where = "the pipeline's `config` parameter (riskops pipeline compile writes it into the spec)"
        if not raw:
            raise ConfigError(
                "no step configuration",
                where,
                "compile the pipeline with the warehouse and artifact root (riskops pipeline compile --warehouse ... "
                "--artifact-root ...) or pass config={...} when submitting",
            )
        try:
            cfg = cls.model_validate(dict(raw))
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(map(str, x['loc'])) or 'config'}: {x['msg']}" for x in e.errors())
            raise ConfigError(f"step configuration is invalid: {problems}", where, "fix the named keys") from None
        missing = [k for k in cfg.required() if not getattr(cfg, k)]
        if missing:
            raise ConfigError(
                f"step configuration lacks {', '.join(missing)} (warehouse {cfg.warehouse})",
                where,
                "set them when compiling or submitting; a step never falls back to a local default",
            )
        if cfg.warehouse == "duckdb" and not Path(cfg.duckdb_path).is_absolute():
            raise ConfigError(f"duckdb_path {cfg.duckdb_path!r} is relative", where, "give an absolute path")
        if not cfg.artifact_root.startswith("gs://") and not Path(cfg.artifact_root).is_absolute():
            raise ConfigError(
                f"artifact_root {cfg.artifact_root!r} is relative", where, "give gs://... or an absolute path"
            )
        return cfg

    def required(self) -> list[str]:
        return ["artifact_root", *(("bq_project", "bq_dataset") if self.warehouse == "bigquery" else ("duckdb_path",))]

    def settings(self) -> Settings:
        """Settings for this step: these fields only, never the step's own environment's warehouse or store."""
        return Settings(
            warehouse=self.warehouse,
            artifact_root=self.artifact_root,
            duckdb_path=Path(self.duckdb_path) if self.duckdb_path else None,
            bq_project=self.bq_project or None,
            bq_dataset=self.bq_dataset,
            bq_location=self.bq_location,
            bq_endpoint=self.bq_endpoint or None,
            bq_storage_endpoint=self.bq_storage_endpoint or None,
            gcs_endpoint=self.gcs_endpoint or None,
            model_approval="required" if self.model_approval else "off",
            book="",  # the artifact root is already the book's; the step's environment never moves it
        )
