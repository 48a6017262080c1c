"""GET /v1/model: the serving model's card in brief."""

from __future__ import annotations

from fastapi import APIRouter

from riskops.model.fairness import fairness_summary
from serving.deps import ModelDep
from serving.schemas import ModelInfo

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
