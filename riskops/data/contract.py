"""The data contract: the two tables every source is mapped onto, and the mapping file that does it.

Types are BigQuery's (the SQL is written once, in BigQuery's dialect). See docs/data-contract.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from riskops.core.configfile import read_config
from riskops.core.errors import DataContractError
from riskops.core.names import check_column, check_table, safe_column

LABEL_ACTIVE = "ACTIVE"
LABEL_SUSPENDED = "SUSPENDED"
LABELS = (LABEL_ACTIVE, LABEL_SUSPENDED)
DIRECTIONS = ("in", "out")
Cohort = Literal["labelled", "unlabelled"]
COHORTS: tuple[Cohort, ...] = ("labelled", "unlabelled")
BAD_ENCODING = "_bad_encoding"  # added by a load: the columns of a row whose bytes were not UTF-8
Table = Literal[
    "raw_customers",
    "raw_transactions",
    "customers",
    "transactions",
    "quarantine_customers",
    "quarantine_transactions",
    "features",
    "features_cutoff",
    "scores",
    "offboarding",
    "drift",
    "ingest_as_of",
]


def table_name(cohort: Cohort | str, table: Table) -> str:
    """The one place a cohort's warehouse table is named: `<cohort>_<table>`; what was loaded before ingest is
    `raw_<cohort>_<customers|transactions>`."""
    if table.startswith("raw_"):
        return f"raw_{cohort}_{table.removeprefix('raw_')}"
    return f"{cohort}_{table}"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # BigQuery type: STRING, TIMESTAMP, FLOAT64
    required: bool
    meaning: str


CUSTOMER_COLUMNS: tuple[Column, ...] = (
    Column("customer_id", "STRING", True, "Unique customer key; transactions refer to it."),
    Column("signup_ts", "TIMESTAMP", True, "When the customer relationship began (UTC)."),
    Column(
        "account_state",
        "STRING",
        False,
        "Final account state, labelled cohort only: ACTIVE, or SUSPENDED (off-boarded for risk).",
    ),
)

TRANSACTION_COLUMNS: tuple[Column, ...] = (
    Column("transaction_id", "STRING", True, "Unique transaction key."),
    Column("customer_id", "STRING", True, "The customer whose account the money moved on."),
    Column("ts", "TIMESTAMP", True, "When the transaction happened (UTC)."),
    Column("amount", "FLOAT64", True, "Absolute amount in `currency`, >= 0; the sign is in `direction`."),
    Column("direction", "STRING", True, "`in` (money arrives) or `out` (money leaves)."),
    Column("currency", "STRING", False, "ISO 4217 code, upper case."),
    Column("type", "STRING", False, "card, transfer, salary, topup, withdrawal, crypto, fx, ... (lower case)."),
    Column("counterparty_id", "STRING", False, "The other party: merchant, account or wallet id."),
    Column("country", "STRING", False, "ISO 3166 alpha-2 country of the counterparty, upper case."),
    Column("status", "STRING", False, "completed, failed, reversed, chargeback (lower case)."),
)

# ISO 4217 active codes (plus XAU/XAG metals); anything else is quarantined as an unknown currency.
ISO_CURRENCIES: frozenset[str] = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
    CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF
    GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP
    LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB
    PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL
    THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL
    XAU XAG""".split()
)


def as_of_cutoff(as_of: date | datetime) -> datetime:
    """The exclusive cut-off instant for `as_of`.

    A date means the whole of that day (UTC) is known: the cut-off is the next midnight. A datetime is taken
    as the instant itself (naive means UTC). Nothing at or after the cut-off may be used.
    """
    if isinstance(as_of, datetime):
        return as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    return datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=UTC)


class TableMapping(BaseModel):
    """How one source table maps onto a contract table."""

    model_config = ConfigDict(extra="forbid")

    columns: dict[str, str] = Field(default_factory=dict, description="contract name -> source column name")
    defaults: dict[str, str] = Field(
        default_factory=dict, description="contract name -> constant used when the source has no such column"
    )

    @field_validator("columns")
    @classmethod
    def _names_reach_sql_safely(cls, v: dict[str, str]) -> dict[str, str]:
        # Source names as the file has them; loaded under their safe form, so the mapping takes that form too.
        return {k: _checked(check_column, safe_column(source)) for k, source in v.items()}


class CohortTables(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customers: str
    transactions: str

    @field_validator("customers", "transactions")
    @classmethod
    def _names_reach_sql_safely(cls, v: str) -> str:
        return _checked(check_table, v)


def _checked(check: Callable[[str], str], name: str) -> str:
    """A name check inside a mapping: its refusal becomes the field's validation error (loaded as a ConfigError)."""
    try:
        return check(name)
    except DataContractError as e:
        raise ValueError(f"{e.what}; {e.fix}") from None


class Mapping(BaseModel):
    """A user's tables and values mapped onto the contract, without code. Load it with `load_mapping`."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # max_amount: .inf reached SQL as text

    cohorts: dict[Cohort, CohortTables] = Field(
        default_factory=lambda: {
            c: CohortTables(customers=table_name(c, "raw_customers"), transactions=table_name(c, "raw_transactions"))
            for c in COHORTS
        }
    )
    customers: TableMapping = Field(default_factory=TableMapping)
    transactions: TableMapping = Field(default_factory=TableMapping)
    outcomes: TableMapping = Field(
        default_factory=TableMapping, description="an outcomes file: customer_id, account_state, decided_at, source"
    )
    labels: dict[str, list[str]] = Field(
        default_factory=lambda: {LABEL_ACTIVE: [LABEL_ACTIVE], LABEL_SUSPENDED: [LABEL_SUSPENDED]},
        description="contract label -> source values (compared as trimmed strings, case-insensitive)",
    )
    label_words: dict[str, str] = Field(
        default_factory=dict,
        description="contract label -> what it means for this book in a word (SUSPENDED: defaulted, ACTIVE: repaid): "
        "how the reports name the outcome (default: the contract labels)",
    )
    directions: dict[str, list[str]] = Field(
        default_factory=lambda: {"in": ["in"], "out": ["out"]},
        description="contract direction -> source values (case-insensitive)",
    )
    categorical: list[str] = Field(
        default_factory=list,
        description="customer attributes that are categories though their values are numbers (codes such as "
        "sex 1/2 or education 1-6): kept as text, so the model treats them as categories",
    )
    numeric: list[str] = Field(
        default_factory=list,
        description="customer attributes that are numbers though the source holds them as text (`'12,5'` is not "
        "one): cast, and a row whose value does not read as a number is quarantined as bad_type:<attribute>",
    )
    protected: list[str] = Field(
        default_factory=list,
        description="customer attributes the bank may not decide on (sex, age, marital status, ethnicity...): "
        "never model features, reasons, rules or neighbours, not shown in the console; kept to measure fairness",
    )
    descriptions: dict[str, str] = Field(
        default_factory=dict,
        description="customer attribute -> what it means, in words (`LIMIT_BAL: credit limit`): how reasons name it",
    )
    currencies: list[str] | None = Field(default=None, description="allowed codes; default: ISO 4217")
    max_amount: float = Field(default=50_000_000.0, gt=0, description="larger amounts are quarantined as absurd")
    max_quarantine_share: float = Field(
        default=0.05, ge=0, le=1, description="stop the run if a larger share of rows is quarantined"
    )

    @field_validator("categorical", "numeric", "protected")
    @classmethod
    def _role_names_reach_sql_safely(cls, v: list[str]) -> list[str]:
        return [_checked(check_column, safe_column(name)) for name in v]

    @field_validator("descriptions")
    @classmethod
    def _described_names_reach_sql_safely(cls, v: dict[str, str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, words in v.items():
            safe = _checked(check_column, safe_column(name))
            if safe in out:  # two keys meeting once made safe: one description would be lost
                first = next(n for n in v if safe_column(n) == safe)
                raise ValueError(f"{first!r} and {name!r} both describe the column {safe!r}; keep one")
            out[safe] = words
        return out

    @field_validator("labels")
    @classmethod
    def _labels_complete(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        if set(v) != set(LABELS):
            raise ValueError(f"labels must map exactly {list(LABELS)}, got {sorted(v)}")
        return v

    @field_validator("label_words")
    @classmethod
    def _words_for_labels(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(LABELS))
        if unknown:
            raise ValueError(f"label_words: {unknown} are not labels; name {list(LABELS)}")
        if any(not 0 < len(w.strip()) <= 40 for w in v.values()):
            raise ValueError("label_words: each word must be 1 to 40 characters")
        return {k: w.strip() for k, w in v.items()}

    @field_validator("directions")
    @classmethod
    def _directions_complete(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        if set(v) != set(DIRECTIONS):
            raise ValueError(f"directions must map exactly {list(DIRECTIONS)}, got {sorted(v)}")
        return v

    @model_validator(mode="after")
    def _each_direction_value_once(self) -> Mapping:
        for key, groups in (("directions", self.directions), ("labels", self.labels)):
            values = [v.strip().lower() for vs in groups.values() for v in vs]  # compared as the load compares them
            twice = sorted({v for v in values if values.count(v) > 1})
            if twice:
                raise ValueError(
                    f"{key}: {twice} are mapped more than once; map each source value to one of {sorted(groups)}"
                )
        if self.currencies is not None and not self.currencies:
            raise ValueError("currencies is empty: list the allowed codes, or leave it out for every ISO 4217 code")
        return self

    @model_validator(mode="after")
    def _one_role_per_attribute(self) -> Mapping:
        both = sorted(set(self.categorical) & set(self.numeric))
        if both:
            raise ValueError(f"{both} are declared both categorical and numeric; choose one")
        return self

    @model_validator(mode="after")
    def _known_contract_names(self) -> Mapping:
        for table, spec, cols in (
            ("customers", self.customers, CUSTOMER_COLUMNS),
            ("transactions", self.transactions, TRANSACTION_COLUMNS),
        ):
            known = {c.name for c in cols}
            unknown = (set(spec.columns) | set(spec.defaults)) - known
            if unknown:
                raise ValueError(f"{table}: {sorted(unknown)} are not contract columns; known: {sorted(known)}")
        return self

    def source_column(self, table: Literal["customers", "transactions"], name: str) -> str:
        spec = self.customers if table == "customers" else self.transactions
        return spec.columns.get(name, name)

    def parameter(self) -> dict[str, Any]:
        """The mapping as a pipeline parameter: JSON values without nulls (KFP refuses a null in a struct); the
        ingest step validates it back. The run records it in the same form."""
        return self.model_dump(mode="json", exclude_none=True)

    def allowed_currencies(self) -> frozenset[str]:
        return frozenset(c.upper() for c in self.currencies) if self.currencies else ISO_CURRENCIES


def outcome_word(label_words: dict[str, str]) -> str:
    """The book's word for the outcome a model predicts (the mapping's `label_words`), else SUSPENDED."""
    return str(label_words.get(LABEL_SUSPENDED, LABEL_SUSPENDED))


def load_mapping(path: Path | None) -> Mapping:
    """Read a mapping file strictly (size, UTF-8, each key once); None gives the identity mapping onto the
    default raw tables."""
    if path is None:
        return Mapping()
    return read_config(path, Mapping, "mapping file", "see configs/mapping.example.yaml and docs/data-contract.md")


# Reference data shared by the generator and the features: corridors a risk team treats as high-risk
# (FATF-listed or offshore-secrecy jurisdictions, an illustrative default; configure your own).
HIGH_RISK_COUNTRIES: tuple[str, ...] = ("AE", "CY", "HK", "IR", "KY", "MM", "NG", "PA", "RU", "VG")
