"""Request and response models: every limit a client can hit is here, and breaks with a 422 naming the field."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from riskops.model.segments import Segment
from riskops.scoring.payloads import ScoreRequest

__all__ = ["ScoreRequest"]  # defined in the library: the stream worker reads the same payload

MAX_BODY_BYTES = 32 * 1024 * 1024  # a full batch (10k customers x ~140 features) is ~10 MB of JSON


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
    family: str = Field(description="catboost or logistic_regression (the policy's choice at training)")
    trained_at: str
    as_of: str
    rows: dict[str, int]
    threshold: float
    metrics: dict[str, float]
    loaded_at: datetime
    fairness: dict[str, Any] = Field(
        default_factory=dict,
        description="per protected attribute (the mapping's "
        "`protected`, never a feature): the listed-share ratio, the equalised-odds "
        "difference, the limits breached, and each group's size, listed share, TPR and "
        "FPR on the holdout",
    )


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
