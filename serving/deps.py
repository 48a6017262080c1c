"""Typed dependencies of the routes: the service's state, the API key checks, the staff member a reviewer key
asserts, and the serving model."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Header, HTTPException, Request

from riskops.scoring.online import LoadedModel
from riskops.scoring.review import Role, User
from serving.errors import NotReady
from serving.state import Service


async def get_service(request: Request) -> Service:  # async: a sync dependency would cost a thread hop
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


def _digest(request: Request) -> str:
    """The SHA-256 of the key the request presents."""
    key = request.headers.get("x-api-key")
    authorization = request.headers.get("authorization")
    if not key and authorization is not None:
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():  # a bare key is not a credential scheme
            raise HTTPException(401, "Authorization must be 'Bearer <key>' (or send X-API-Key)")
    if not key:
        raise HTTPException(401, "missing API key: send it as X-API-Key or Authorization: Bearer")
    return hashlib.sha256(key.encode()).hexdigest()


async def require_key(request: Request, service: ServiceDep) -> None:
    if not service.api_key_hashes:
        return  # development without keys: open
    digest = _digest(request)
    if not any(hmac.compare_digest(digest, h) for h in service.api_key_hashes):
        raise HTTPException(403, "API key not accepted")


async def require_console_key(request: Request, service: ServiceDep) -> None:
    """The book (every customer's score, reasons and rules) and the review decisions, which name the staff
    member who took them, are the console's: only a caller trusted to say who that is (the console, which
    checks its users) may read them or record a decision. A scoring client's key reads scores, not these."""
    if not service.api_key_hashes:
        return  # development without keys: open, like every route
    if not service.reviewer_key_hashes:
        raise HTTPException(
            403,
            "no key may read the book or the review on this service: set "
            "RISKOPS_REVIEWER_KEY_HASHES to the digest of the console's key",
        )
    digest = _digest(request)
    if not any(hmac.compare_digest(digest, h) for h in service.reviewer_key_hashes):
        raise HTTPException(403, "this API key may score but not read the book or the review (the console's key may)")


async def staff_member(
    x_riskops_staff: Annotated[str, Header(min_length=1, max_length=600, description="who decides, percent-encoded")],
    x_riskops_staff_role: Annotated[Role, Header(description="their role in the console's users file")],
) -> User:
    try:
        name = unquote(x_riskops_staff, errors="strict").strip()
    except UnicodeDecodeError:
        name = ""
    if not name or len(name) > 200:
        raise HTTPException(422, "X-Riskops-Staff must name the staff member (1-200 characters, percent-encoded)")
    return User(name=name, role=x_riskops_staff_role)


StaffDep = Annotated[User, Depends(staff_member)]


async def serving_model(service: ServiceDep) -> LoadedModel:
    m = service.holder.current  # one read: the request finishes on this model whatever is swapped meanwhile
    if m is None:
        raise NotReady("no model loaded yet: train and promote a champion")
    return m


ModelDep = Annotated[LoadedModel, Depends(serving_model)]
