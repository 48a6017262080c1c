"""POST /v1/score (one customer's raw record) and /v1/score/batch (features, JSON or Arrow)."""

from __future__ import annotations

import time
import uuid

from fastapi import APIRouter, Request, Response

from riskops.core.logs import request_id
from riskops.scoring.online import arrow_columns, score_columns, score_request
from serving import metrics
from serving.bodies import ERRORS, batch_body, json_body, parse_body, read_body
from serving.deps import ModelDep, ServiceDep
from serving.schemas import ARROW_STREAM, MAX_BATCH, BatchRequest, BatchResponse, ScoreRequest, ScoreResponse

router = APIRouter(prefix="/v1")  # in the router itself: the metrics label the route by its full path


@router.post("/score", response_model=ScoreResponse, openapi_extra=json_body(ScoreRequest), responses=ERRORS)
async def score(request: Request, m: ModelDep, service: ServiceDep) -> Response:
    started = time.perf_counter()
    body = await parse_body(request, ScoreRequest)
    d = score_request(m, body, service.lookup.policy_for(m))
    metrics.SCORES.observe(d.score)
    service.window.add((d.score,))
    metrics.DECISIONS.labels(d.segment, str(d.offboard).lower()).inc()
    rid = request_id.get() or str(uuid.uuid4())
    customer_id = body.customer.customer_id
    service.predictions.record(service.record_for(rid, d.version, customer_id, d.score, d.segment, d.offboard, started))
    service.shadow_score(body, rid)
    out = ScoreResponse(
        request_id=rid,
        customer_id=body.customer.customer_id,
        model_version=d.version,
        score=d.score,
        segment=d.segment,
        offboard=d.offboard,
        rules=d.rules,
        reasons=d.reasons,
    )
    return Response(out.model_dump_json(), media_type="application/json")


@router.post("/score/batch", response_model=BatchResponse, openapi_extra=batch_body(), responses=ERRORS)
async def score_batch(request: Request, m: ModelDep, service: ServiceDep) -> Response:
    started = time.perf_counter()
    if request.headers.get("content-type", "").startswith(ARROW_STREAM):
        max_columns = len(m.card.features) + len(m.card.dropped) + 1
        ids, columns = arrow_columns(await read_body(request), MAX_BATCH, max_columns)
    else:
        body = await parse_body(request, BatchRequest)
        ids, columns = body.customer_id, body.features
    scores = score_columns(m, columns, ids, service.lookup.policy_for(m))
    service.window.add(scores["score"].tolist())
    rid = request_id.get() or str(uuid.uuid4())
    service.shadow_batch(columns, ids, rid)
    service.log_batch(rid, m.version, ids, scores, started)
    out = BatchResponse(
        model_version=m.version,
        customer_id=ids,
        score=scores["score"].tolist(),
        segment=scores["segment"].tolist(),
        offboard=scores["offboard"].tolist(),
    )
    return Response(out.model_dump_json(), media_type="application/json")
