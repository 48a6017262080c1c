"""Request and response models: every limit a client can hit is here, and breaks with a 422 naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, field_validator, with_config
from typing_extensions import TypedDict

from riskops.scoring.policy import Segment

MAX_TRANSACTIONS = 2_000
MAX_BODY_BYTES = 32 * 1024 * 1024  # a full batch (10k customers x ~140 features) is ~10 MB of JSON
Attribute = str | FiniteFloat | int | bool | None  # 1e400 parses to infinity: refused, not scored


def _utc(v: datetime) -> datetime:
    return v if v.tzinfo else v.replace(tzinfo=UTC)


@with_config(ConfigDict(extra="forbid"))
class Transaction(TypedDict):
    """One raw transaction. A TypedDict, not a model: 200 of them validate ~40% faster as plain dicts.
    A timestamp without an offset is UTC."""

    transaction_id: NotRequired[Annotated[str | None, Field(max_length=128)]]
    ts: datetime
    amount: Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]
    direction: Literal["in", "out"]
    currency: NotRequired[Annotated[str | None, Field(pattern=r"^[A-Z]{3}$")]]
    type: NotRequired[Annotated[str | None, Field(max_length=32)]]
    counterparty_id: NotRequired[Annotated[str | None, Field(max_length=128)]]
    country: NotRequired[Annotated[str | None, Field(pattern=r"^[A-Z]{2}$")]]
    status: NotRequired[Annotated[str | None, Field(max_length=32)]]


class Customer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(min_length=1, max_length=128)
    signup_ts: datetime
    attributes: dict[str, Attribute] = Field(default_factory=dict, max_length=64)

    _signup_utc = field_validator("signup_ts")(_utc)


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer: Customer
    transactions: list[Transaction] = Field(default_factory=list, max_length=MAX_TRANSACTIONS)
    as_of: datetime | None = Field(default=None, description="cut-off; default: now")

    _as_of_utc = field_validator("as_of")(lambda v: None if v is None else _utc(v))


class ScoreResponse(BaseModel):
    request_id: str
    customer_id: str
    model_version: str
    score: float
    segment: Segment
    offboard: bool
    rules: list[str]
    reasons: list[str]


class ModelInfo(BaseModel):
    version: str
    trained_at: str
    as_of: str
    rows: dict[str, int]
    threshold: float
    metrics: dict[str, float]
    loaded_at: datetime


MAX_BATCH = 10_000
ARROW_STREAM = "application/vnd.apache.arrow.stream"
BATCH_ARROW_DOC = (
    "An Arrow IPC stream with a `customer_id` string column and one column per feature (numeric features as "
    "numbers, categorical ones as strings; nulls allowed): no per-value JSON parse, the fast way to score many "
    "customers."
)


class BatchRequest(BaseModel):
    """Column-oriented: one list per feature, all as long as `customer_id`. Values are checked against the
    model's type for each feature when scored (numbers or null; strings or null for categorical features):
    one typed pass per column instead of a union check per value."""

    model_config = ConfigDict(extra="forbid")

    customer_id: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(min_length=1, max_length=MAX_BATCH)
    features: dict[str, list[Any]] = Field(description="feature name -> one value per customer (GET /v1/model)")

    @field_validator("features")
    @classmethod
    def _same_length(cls, v: dict[str, list[Any]], info: Any) -> dict[str, list[Any]]:
        n = len(info.data.get("customer_id") or [])
        wrong = [k for k, col in v.items() if len(col) != n]
        if wrong:
            raise ValueError(f"columns {wrong} do not have one value per customer_id ({n})")
        return v


class BatchResponse(BaseModel):
    model_version: str
    customer_id: list[str]
    score: list[float]
    segment: list[str]
    offboard: list[bool]


class CustomerRisk(BaseModel):
    customer_id: str
    score: float
    segment: Segment
    offboard: bool
    rules: list[str]
    reasons: list[str]
    run_id: str
    model_version: str | None = Field(description="the model that scored this run (absent for older runs)")
