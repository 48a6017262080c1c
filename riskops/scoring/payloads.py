"""One customer's raw record and transactions as a caller sends them: to `POST /v1/score` and, wrapped in an
event, on the stream. Every limit a caller can hit is here (pydantic), so the service and the stream worker
refuse the same things with the same words."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    TypeAdapter,
    ValidationError,
    field_validator,
    with_config,
)
from typing_extensions import TypedDict

from riskops.core.errors import DataContractError
from riskops.data.contract import LABELS

MAX_TRANSACTIONS = 2_000
MAX_EVENT_BYTES = 1024 * 1024  # 2,000 transactions are ~400 KB of JSON
Attribute = str | FiniteFloat | int | bool | None  # 1e400 parses to infinity: refused, not scored
# Event ids are keys in the warehouse and attributes on topics: plain characters only, so no id needs escaping.
EventId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:@/+=-]{1,128}$")]


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

    def record(self) -> dict[str, Any]:
        """The customer as the feature code reads it: id, signup and the attributes by name."""
        return {"customer_id": self.customer_id, "signup_ts": self.signup_ts} | self.attributes


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer: Customer
    transactions: list[Transaction] = Field(default_factory=list, max_length=MAX_TRANSACTIONS)
    as_of: datetime | None = Field(default=None, description="cut-off; default: now")

    _as_of_utc = field_validator("as_of")(lambda v: None if v is None else _utc(v))


class CustomerEvent(ScoreRequest):
    """A new or updated customer with its recent transactions, to be scored. `event_id` makes it idempotent:
    a redelivered or duplicated event has the result of its first delivery."""

    kind: Literal["customer"]
    event_id: EventId


class OutcomeEvent(ScoreRequest):
    """A labelled sample: a customer whose account reached its final state, with its record and transactions.
    Appended (once per event id, once per customer) to the labelled cohort's raw tables for the next training."""

    kind: Literal["outcome"]
    event_id: EventId
    account_state: Literal[LABELS]  # type: ignore[valid-type]
    decided_at: datetime
    source: Annotated[str, Field(max_length=64)] = "account_state"

    _decided_utc = field_validator("decided_at")(_utc)


Event = Annotated[CustomerEvent | OutcomeEvent, Field(discriminator="kind")]
_EVENT: TypeAdapter[CustomerEvent | OutcomeEvent] = TypeAdapter(Event)


def parse_event(data: bytes, max_bytes: int = MAX_EVENT_BYTES) -> CustomerEvent | OutcomeEvent:
    """A message body -> an event, bounded before it is decoded; anything else is a DataContractError that says
    what and where (the dead-letter reason)."""
    if len(data) > max_bytes:
        raise DataContractError(f"event of {len(data):,} bytes; at most {max_bytes:,} are accepted", "message data",
                                f"send at most {MAX_TRANSACTIONS:,} transactions per event")  # fmt: skip
    try:
        return _EVENT.validate_json(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "message data"
        raise DataContractError(
            f"{first['msg']} ({e.error_count()} problem{'s' * (e.error_count() > 1)})", where,
            'send a JSON event: {"kind": "customer"|"outcome", "event_id", "customer", "transactions", ...}',
        ) from None  # fmt: skip


def event_id_of(data: bytes) -> str | None:
    """The event id of a body that did not parse as an event, when one can be read: named in its dead letter."""
    try:
        value = json.loads(data[:MAX_EVENT_BYTES]).get("event_id") if len(data) <= MAX_EVENT_BYTES else None
    except (ValueError, AttributeError, UnicodeDecodeError, RecursionError):  # deep nesting stalled the stream
        return None
    return str(value)[:128] if value is not None else None
