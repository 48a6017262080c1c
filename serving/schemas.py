"""Request and response models: every limit a client can hit is here, and breaks with a 422 naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_TRANSACTIONS = 2_000
Attribute = str | float | int | bool | None


def _utc(v: datetime) -> datetime:
    return v if v.tzinfo else v.replace(tzinfo=UTC)


class Transaction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    transaction_id: str | None = Field(default=None, max_length=128)
    ts: datetime
    amount: float = Field(ge=0, le=1e9, allow_inf_nan=False)
    direction: Literal["in", "out"]
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    type: str | None = Field(default=None, max_length=32)
    counterparty_id: str | None = Field(default=None, max_length=128)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    status: str | None = Field(default=None, max_length=32)

    _ts_utc = field_validator("ts")(_utc)


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
    segment: Literal["Low", "Medium", "High"]
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


class BatchRequest(BaseModel):
    """Column-oriented: one list per feature, all as long as `customer_id`."""

    model_config = ConfigDict(extra="forbid")

    customer_id: list[str] = Field(min_length=1, max_length=MAX_BATCH)
    features: dict[str, list[float | str | None]]

    @field_validator("features")
    @classmethod
    def _same_length(cls, v: dict[str, list[float | str | None]], info: Any) -> dict[str, list[float | str | None]]:
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
    segment: Literal["Low", "Medium", "High"]
    offboard: bool
    rules: list[str]
    reasons: list[str]
    run_id: str
