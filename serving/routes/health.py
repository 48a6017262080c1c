"""Probes and the Prometheus scrape: /healthz, /readyz, /metrics (no API key)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from serving.deps import ServiceDep
from serving.errors import NotFound

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/readyz")
async def readyz(response: Response, service: ServiceDep) -> dict[str, Any]:
    """Ready when a model is loaded. Says which policy decides, which versions wait for a validator's approval
    (with approval required) and, while a refresh keeps failing, what and why (what is served stays the last
    good one, so the pod stays ready)."""
    holder = service.holder
    waiting = {"awaiting_approval": holder.awaiting} if holder.registry.approval_required else {}
    if holder.current is None:
        response.status_code = 503
        waits = f"no approved champion: {', '.join(holder.awaiting)} awaiting approval" if holder.awaiting else ""
        status = holder.last_failure or waits or "no model loaded"
        return {"status": status, "refresh_failing": service.refreshes.report(), **waiting}
    return {
        "status": "ready",
        "model_version": holder.current.version,
        "policy": service.policy_source(),
        "refresh_failing": service.refreshes.report(),
        **waiting,
    }


@router.get("/metrics")
async def prometheus(request: Request) -> Response:
    """For Prometheus, which scrapes the pod directly; not through the public path prefix (`/ai/metrics`), where
    it would tell anyone the model version, its holdout metrics and the decision counts."""
    root = request.scope.get("root_path", "")
    if root and request.scope["path"].startswith(f"{root}/"):
        raise NotFound("metrics are scraped from the pod, not served under the public path")
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
