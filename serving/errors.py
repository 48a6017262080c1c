"""Domain errors of the service and the handlers that map them to HTTP answers; routes raise, never format."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from riskops.core.errors import DataContractError, WarehouseError
from riskops.model.approval import ApprovalError
from riskops.scoring.bookview import BookQueryError
from riskops.scoring.review import ReviewError
from riskops.scoring.whatif import BadChange, WhatIfError


class NotReady(Exception):
    """What the request needs is not loaded yet (no champion, no published scoring run): 503."""


class NotFound(Exception):
    """The named thing is not there: 404."""


async def _not_ready(request: Request, e: Exception) -> Response:
    return await http_exception_handler(request, HTTPException(503, str(e)))


async def _not_found(request: Request, e: Exception) -> Response:
    return await http_exception_handler(request, HTTPException(404, str(e)))


async def _bad_features(request: Request, e: Exception) -> Response:
    """Features that break the model's contract are a 422 like any invalid body, at `body.features`."""
    assert isinstance(e, DataContractError)
    error = {"loc": ("body", "features"), "msg": e.what, "type": "value_error"}
    return await request_validation_exception_handler(request, RequestValidationError([error]))


async def _bad_query(request: Request, e: Exception) -> Response:
    """A book query naming a column, segment, rule or attribute the book lacks: 422 at the query."""
    assert isinstance(e, BookQueryError)
    error = {"loc": ("query", e.where), "msg": f"{e.what}; {e.fix}", "type": "value_error"}
    return await request_validation_exception_handler(request, RequestValidationError([error]))


async def _refused(request: Request, e: Exception) -> Response:
    """A review decision the rules refuse (role, four eyes, state, a list that changed), or a what-if that
    cannot be answered now (another model, changed features), a model decision the four-eyes rules refuse: 409
    with the fix."""
    assert isinstance(e, ReviewError | WhatIfError | ApprovalError)
    return JSONResponse({"detail": e.what, "where": e.where, "fix": e.fix}, status_code=409)


async def _bad_change(request: Request, e: Exception) -> Response:
    """A what-if change the model cannot take: 422 at the change."""
    assert isinstance(e, BadChange)
    error = {"loc": ("body", *e.where.split(".")), "msg": f"{e.what}; {e.fix}", "type": "value_error"}
    return await request_validation_exception_handler(request, RequestValidationError([error]))


async def _warehouse(request: Request, e: Exception) -> Response:
    """The warehouse failed a review read or write (busy, unreachable): 503, nothing was recorded."""
    return await http_exception_handler(request, HTTPException(503, f"the warehouse failed: {e}"))


def add_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ReviewError, _refused)
    app.add_exception_handler(ApprovalError, _refused)
    app.add_exception_handler(BadChange, _bad_change)  # before WhatIfError: the more specific class
    app.add_exception_handler(WhatIfError, _refused)
    app.add_exception_handler(WarehouseError, _warehouse)
    app.add_exception_handler(BookQueryError, _bad_query)
    app.add_exception_handler(NotReady, _not_ready)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(DataContractError, _bad_features)
