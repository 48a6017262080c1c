"""The review of the latest scoring run's list, for the console: read the decisions, record one in the name of
the staff member the console asserts (only a reviewer key may: RISKOPS_REVIEWER_KEY_HASHES). What was shown is
taken from the service's own book. Thin: riskops.scoring.review decides and appends to the warehouse."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from riskops.scoring import review
from serving.deps import ServiceDep, StaffDep, require_console_key
from serving.errors import NotFound
from serving.routes.book import book_of

router = APIRouter(prefix="/v1/review", dependencies=[Depends(require_console_key)])


class StaffDecision(BaseModel):
    """A staff member's decision on a listed customer, as the console sends it (what was shown comes from the
    service's own book, never from the body)."""

    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(max_length=100, description="the scoring run whose list the staff member saw")
    action: review.Recorded
    comment: str = Field(max_length=review.MAX_COMMENT + 200, description="why (required; checked after trimming)")


@router.get("/decisions")
async def decisions(
    service: ServiceDep,
    run_id: Annotated[str | None, Query(max_length=100)] = None,
    customer_id: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    """Every decision (of one run, of one customer), oldest first."""
    frame = await asyncio.to_thread(service.warehouse_do, review.read_decisions, run_id, customer_id)
    return {"decisions": frame.to_dict("records")}


@router.post("/customers/{customer_id:path}/decisions", status_code=201)
async def decide(customer_id: str, body: StaffDecision, service: ServiceDep, staff: StaffDep) -> dict[str, Any]:
    """Record a decision on a listed customer, or an approver's confirmation of a pending off-boarding."""
    book = book_of(service)
    profile = book.profile(customer_id)
    if profile is None:
        raise NotFound(f"customer {customer_id} was not in scoring run {book.meta.run_id}")
    return await asyncio.to_thread(
        service.warehouse_do, review.record, staff, profile, body.action, body.comment, body.run_id
    )
