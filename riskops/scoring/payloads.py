"""One customer's raw record and transactions as a caller sends them: to `POST /v1/score` and, wrapped in an
event, on the stream. Every limit a caller can hit is here (pydantic), so the service and the stream worker
refuse the same things with the same words."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, NotRequired

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    FiniteFloat,
    TypeAdapter,
    ValidationError,
    model_validator,
    with_config,
)
from pydantic_core import PydanticCustomError
from typing_extensions import TypedDict

from riskops.core.errors import DataContractError
from riskops.data.contract import LABELS

MAX_TRANSACTIONS = 2_000
MAX_EVENT_BYTES = 1024 * 1024  # 2,000 transactions are ~400 KB of JSON
Attribute = str | FiniteFloat | int | bool | None  # 1e400 parses to infinity: refused, not scored
# Event ids are keys in the warehouse and attributes on topics: plain characters only, so no id needs escaping.
EventId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:@/+=-]{1,128}$")]


CLOCK_SKEW = timedelta(minutes=5)  # a caller's clock may run this far ahead of ours


def _utc(v: datetime) -> datetime:
    return v if v.tzinfo else v.replace(tzinfo=UTC)


def _iso_time(v: Any) -> Any:
    """Times are ISO 8601 text, as the batch contract reads them: a number (epoch seconds? milliseconds?) is
    refused, not guessed; a time without an offset is UTC."""
    if isinstance(v, datetime):
        return _utc(v)
    if isinstance(v, str):
        try:
            return _utc(datetime.fromisoformat(v))
        except ValueError:
            raise ValueError(f"{v[:40]!r} is not an ISO 8601 time such as 2026-09-30T12:00:00Z") from None
    raise ValueError("a time is ISO 8601 text such as 2026-09-30T12:00:00Z, not a number")


def _out_of_order(field: str, message: str) -> PydanticCustomError:
    """A rule across fields fails on the model as a whole; `field` puts the error where it belongs
    (`errors_at_fields`)."""
    return PydanticCustomError("time_out_of_order", "{message}", {"message": message, "field": field})


def errors_at_fields(e: ValidationError, tagged: bool = False) -> list[dict[str, Any]]:
    """A validation error's problems, each at its field's path (a rule across fields names its field), without
    the input echoed back: what the service's 422 and the stream's dead letter both say. `tagged`: the model
    was one of a tagged union (an event), whose kind pydantic puts first in each path; it is left out."""
    out = []
    for err in e.errors(include_url=False, include_input=False):
        field = (err.get("ctx") or {}).get("field")
        loc = tuple(int(p) if p.isdigit() else p for p in field.split(".")) if field else err["loc"]
        loc = loc[1:] if tagged and not field and len(loc) > 1 else loc
        out.append({"type": err["type"], "loc": loc, "msg": err["msg"]})
    return out


# One time type for every payload: ISO text only, always UTC-aware.
IsoTime = Annotated[datetime, BeforeValidator(_iso_time)]


@with_config(ConfigDict(extra="forbid"))
class Transaction(TypedDict):
    """One raw transaction. A TypedDict, not a model: 200 of them validate ~40% faster as plain dicts.
    A timestamp without an offset is UTC."""

    transaction_id: NotRequired[Annotated[str | None, Field(max_length=128)]]
    ts: IsoTime
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
    signup_ts: IsoTime
    attributes: dict[str, Attribute] = Field(default_factory=dict, max_length=64)

    def record(self) -> dict[str, Any]:
        """The customer as the feature code reads it: id, signup and the attributes by name."""
        return {"customer_id": self.customer_id, "signup_ts": self.signup_ts} | self.attributes


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer: Customer
    transactions: list[Transaction] = Field(default_factory=list, max_length=MAX_TRANSACTIONS)
    as_of: IsoTime | None = Field(default=None, description="cut-off, not in the future; default: now")

    @model_validator(mode="after")
    def _times_in_order(self) -> ScoreRequest:
        """The batch contract's time rules (ingest quarantines what breaks them; one request is refused):
        as_of not in the future, the customer signed up before it, no transaction in the future."""
        now = datetime.now(UTC)
        if self.as_of is not None and self.as_of > now + CLOCK_SKEW:
            raise _out_of_order("as_of", f"as_of {self.as_of.isoformat()} is in the future (now is {now.isoformat()})")
        cutoff = self.as_of or now
        if self.customer.signup_ts >= cutoff + (CLOCK_SKEW if self.as_of is None else timedelta(0)):
            raise _out_of_order(
                "customer.signup_ts",
                f"signup {self.customer.signup_ts.isoformat()} is not before as_of {cutoff.isoformat()}",
            )
        for i, t in enumerate(self.transactions):
            if t["ts"] > now + CLOCK_SKEW:
                raise _out_of_order(
                    f"transactions.{i}.ts", f"{t['ts'].isoformat()} is in the future (now is {now.isoformat()})"
                )
        return self


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
    decided_at: IsoTime
    source: Annotated[str, Field(max_length=64)] = "account_state"

    @model_validator(mode="after")
    def _decided_already(self) -> OutcomeEvent:
        now = datetime.now(UTC)
        if self.decided_at > now + CLOCK_SKEW:
            raise _out_of_order(
                "decided_at", f"{self.decided_at.isoformat()} is in the future (now is {now.isoformat()})"
            )
        return self


Event = Annotated[CustomerEvent | OutcomeEvent, Field(discriminator="kind")]
_EVENT: TypeAdapter[CustomerEvent | OutcomeEvent] = TypeAdapter(Event)


def parse_event(data: bytes, max_bytes: int = MAX_EVENT_BYTES) -> CustomerEvent | OutcomeEvent:
    """A message body -> an event, bounded before it is decoded; anything else is a DataContractError that says
    what and where (the dead-letter reason)."""
    if len(data) > max_bytes:
        raise DataContractError(
            f"event of {len(data):,} bytes; at most {max_bytes:,} are accepted",
            "message data",
            f"send at most {MAX_TRANSACTIONS:,} transactions per event",
        )
    try:
        return _EVENT.validate_json(data)
    except ValidationError as e:
        first = errors_at_fields(e, tagged=True)[0]
        where = ".".join(str(x) for x in first["loc"]) or "message data"
        raise DataContractError(
            f"{first['msg']} ({e.error_count()} problem{'s' * (e.error_count() > 1)})",
            where,
            'send a JSON event: {"kind": "customer"|"outcome", "event_id", "customer", "transactions", ...}',
        ) from None


def event_id_of(data: bytes) -> str | None:
    """The event id of a body that did not parse as an event, when one can be read: named in its dead letter."""
    try:
        value = json.loads(data[:MAX_EVENT_BYTES]).get("event_id") if len(data) <= MAX_EVENT_BYTES else None
    except (ValueError, AttributeError, UnicodeDecodeError, RecursionError):  # deep nesting stalled the stream
        return None
    return str(value)[:128] if value is not None else None
