"""The models: GET /v1/model (the serving model in brief) and /v1/model/card (its model card); for the console,
GET /v1/models (every version with its approval), /v1/models/{version}/card, and POST
/v1/models/{version}/approval (a validator's four-eyes decision, in the name of the staff member the console
asserts). Thin: riskops.model.registry decides and writes the approval log."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field

from riskops.model import registry as models
from riskops.model.cardpage import CardPage, version_card
from riskops.model.fairness import fairness_summary
from serving.deps import ModelDep, ServiceDep, StaffDep, require_console_key
from serving.errors import NotFound
from serving.schemas import ModelInfo

# A version name as the registry makes them (m20261207-101500-000000); anything else, `..` included, is a 422
# before it comes near an artifact key.
Version = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$", description="a model version")]
router = APIRouter(prefix="/v1")  # in the router itself: the metrics label the route by its full path


@router.get("/model", response_model=ModelInfo)
async def model_info(m: ModelDep) -> ModelInfo:
    c = m.card
    return ModelInfo(
        version=c.version,
        family=c.family,
        trained_at=c.created,
        as_of=c.as_of,
        rows=c.rows,
        threshold=c.threshold,
        metrics={k: float(c.metrics[k]) for k in ("roc_auc", "pr_auc", "brier")},
        loaded_at=m.loaded_at,
        fairness=fairness_summary(c.metrics.get("fairness", {})),
    )


@router.get("/model/card", response_model=CardPage)
async def model_card(m: ModelDep, service: ServiceDep) -> CardPage:
    """The serving model's card: intended use, uses it is not for, data, metrics, fairness, limitations and
    its approvals."""
    return await asyncio.to_thread(version_card, service.holder.registry, m.version)


class ApprovalBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["approved", "rejected"]
    comment: str = Field(default="", max_length=2000, description="what the approval rests on; a rejection's reason")


@router.get("/models", dependencies=[Depends(require_console_key)])
async def versions(service: ServiceDep) -> dict[str, Any]:
    """Every registered version, newest first, with who registered it, its holdout figures and its approval."""
    registry = service.holder.registry
    rows = await asyncio.to_thread(models.overview, registry)
    return {"approval_required": registry.approval_required, "versions": rows}


@router.get("/models/{version}/card", response_model=CardPage, dependencies=[Depends(require_console_key)])
async def version_card_of(version: Version, service: ServiceDep) -> CardPage:
    """Any registered version's card, for the validator deciding on it."""
    registry = service.holder.registry
    if not await asyncio.to_thread(registry.exists, version):
        raise NotFound(f"model version {version} is not registered")
    return await asyncio.to_thread(version_card, registry, version)


@router.post("/models/{version}/approval", status_code=201, dependencies=[Depends(require_console_key)])
async def decide(version: Version, body: ApprovalBody, service: ServiceDep, staff: StaffDep) -> dict[str, Any]:
    """A validator approves (a version awaiting approval becomes the champion) or rejects a version."""
    if staff.role != "validator":
        raise HTTPException(403, f"{staff.name} is a {staff.role}; only a validator approves or rejects models")
    registry = service.holder.registry
    if not await asyncio.to_thread(registry.exists, version):
        raise NotFound(f"model version {version} is not registered")
    if body.action == "approved":
        promoted = await asyncio.to_thread(models.approve, registry, version, staff.name, body.comment)
    else:
        await asyncio.to_thread(models.reject, registry, version, staff.name, body.comment)
        promoted = False
    return {"version": version, "state": body.action, "by": staff.name, "champion": promoted}
