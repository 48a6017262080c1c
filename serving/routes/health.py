"""Probes and the Prometheus scrape: /healthz, /readyz, /metrics (no API key)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from serving.deps import ServiceDep

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/readyz")
async def readyz(response: Response, service: ServiceDep) -> dict[str, str]:
    holder = service.holder
    if holder.current is None:
        response.status_code = 503
        return {"status": holder.last_failure or "no model loaded"}
    return {"status": "ready", "model_version": holder.current.version}


@router.get("/metrics")
async def prometheus() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
