"""Typed dependencies of the routes: the service's state, the API key check and the serving model."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from riskops.scoring.online import LoadedModel
from serving.errors import NotReady
from serving.state import Service


async def get_service(request: Request) -> Service:  # async: a sync dependency would cost a thread hop
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


async def require_key(request: Request, service: ServiceDep) -> None:
    if not service.api_key_hashes:
        return  # development without keys: open
    key = request.headers.get("x-api-key")
    authorization = request.headers.get("authorization")
    if not key and authorization is not None:
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():  # a bare key is not a credential scheme
            raise HTTPException(401, "Authorization must be 'Bearer <key>' (or send X-API-Key)")
    if not key:
        raise HTTPException(401, "missing API key: send it as X-API-Key or Authorization: Bearer")
    digest = hashlib.sha256(key.encode()).hexdigest()
    if not any(hmac.compare_digest(digest, h) for h in service.api_key_hashes):
        raise HTTPException(403, "API key not accepted")


async def serving_model(service: ServiceDep) -> LoadedModel:
    m = service.holder.current  # one read: the request finishes on this model whatever is swapped meanwhile
    if m is None:
        raise NotReady("no model loaded yet: train and promote a champion")
    return m


ModelDep = Annotated[LoadedModel, Depends(serving_model)]
