"""The console's read routes over the latest scoring run's precomputed book: a customer's profile, the book's
summary (segments, histogram, key features), a filtered and sorted page of customers, and a scatter of two
columns. Thin: riskops.scoring.bookview answers."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from riskops.scoring.bookview import MAX_POINTS, MAX_ROWS, BookView
from riskops.scoring.whatif import MAX_CHANGES, stored_features, what_if
from serving.bodies import json_body, parse_body
from serving.deps import ModelDep, ServiceDep, require_console_key
from serving.errors import NotFound, NotReady

# The book holds every customer's score, reasons and AML rules: the console's key only, never a scoring key.
router = APIRouter(prefix="/v1", dependencies=[Depends(require_console_key)])


def book_of(service: Any) -> BookView:
    book = service.lookup.book
    if book is None:
        raise NotReady("no scoring run with a console book published yet: run the scoring pipeline")
    return book


class Filters:
    """The book's filters, as query parameters."""

    def __init__(
        self,
        segment: Literal["Low", "Medium", "High"] | None = None,
        rule: Annotated[str | None, Query(max_length=100)] = None,
        score_min: Annotated[float | None, Query(ge=0, le=1)] = None,
        score_max: Annotated[float | None, Query(ge=0, le=1)] = None,
        offboard: bool | None = None,
        q: Annotated[str | None, Query(max_length=100, description="customer id prefix")] = None,
        attribute: Annotated[str | None, Query(max_length=100)] = None,
        value: Annotated[str | None, Query(max_length=200)] = None,
    ) -> None:
        self.segment, self.rule, self.score_min, self.score_max = segment, rule, score_min, score_max
        self.offboard, self.q, self.attribute, self.value = offboard, q, attribute, value

    def mask(self, book: BookView) -> np.ndarray:
        return book.mask(
            segment=self.segment,
            rule=self.rule,
            score_min=self.score_min,
            score_max=self.score_max,
            offboard=self.offboard,
            q=self.q,
            attribute=self.attribute,
            value=self.value,
        )


@router.get("/customers/{customer_id:path}/profile")
async def customer_profile(customer_id: str, service: ServiceDep) -> dict[str, Any]:
    """Everything the client view shows: score and band, meaning, reasons, contributions, comparisons with all
    customers and the segment, nearest neighbours, the customer's attributes."""
    book = book_of(service)
    profile = book.profile(customer_id)
    if profile is None:
        raise NotFound(f"customer {customer_id} was not in scoring run {book.meta.run_id}")
    return profile


@router.get("/book/summary")
async def book_summary(service: ServiceDep) -> dict[str, Any]:
    return book_of(service).summary()


@router.get("/book/customers")
async def book_customers(
    service: ServiceDep,
    filters: Annotated[Filters, Depends()],
    sort: Annotated[str, Query(max_length=100)] = "score",
    order: Literal["asc", "desc"] = "desc",
    limit: Annotated[int, Query(ge=1, le=MAX_ROWS)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    book = book_of(service)
    return book.customers(filters.mask(book), sort, order, limit, offset)


@router.get("/book/scatter")
async def book_scatter(
    service: ServiceDep,
    filters: Annotated[Filters, Depends()],
    x: Annotated[str, Query(max_length=100)],
    y: Annotated[str, Query(max_length=100)],
    limit: Annotated[int, Query(ge=1, le=MAX_POINTS)] = 2000,
) -> dict[str, Any]:
    book = book_of(service)
    return book.scatter(filters.mask(book), x, y, limit)


class WhatIf(BaseModel):
    """One or two of the customer's features set to other values."""

    model_config = ConfigDict(extra="forbid")

    changes: dict[Annotated[str, Field(max_length=100)], float] = Field(min_length=1, max_length=MAX_CHANGES)


@router.post("/customers/{customer_id:path}/what-if", openapi_extra=json_body(WhatIf))
async def customer_what_if(customer_id: str, request: Request, service: ServiceDep, m: ModelDep) -> dict[str, Any]:
    """The customer's score, segment, decision and reasons before and after changing one or two features of
    its stored vector, under the run's policy; nothing is recorded."""
    body = await parse_body(request, WhatIf)
    book = book_of(service)
    i = book.index.get(customer_id)
    if i is None:
        raise NotFound(f"customer {customer_id} was not in scoring run {book.meta.run_id}")
    values = await asyncio.to_thread(service.warehouse_do, stored_features, book.meta.cohort, customer_id)
    if values is None:
        raise NotFound(f"customer {customer_id} has no row in the {book.meta.cohort} features table")
    score = float(book.num["score"][i])
    return what_if(m, values, body.changes, service.lookup.policy_for(m), score, book.meta.model_version)
