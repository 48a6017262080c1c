"""POST /v1/score (one customer's raw record) and /v1/score/batch (features, JSON or Arrow)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from riskops.core.logs import request_id
from riskops.features.engineering import TX_COLUMNS
from riskops.scoring.online import arrow_columns, score_columns, score_payload
from riskops.scoring.predlog import customer_key
from serving import metrics
from serving.bodies import ERRORS, batch_body, json_body, parse_body, read_body
from serving.deps import ModelDep, ServiceDep
from serving.schemas import ARROW_STREAM, MAX_BATCH, BatchRequest, BatchResponse, ScoreRequest, ScoreResponse

router = APIRouter(prefix="/v1")  # in the router itself: the metrics label the route by its full path


@router.post("/score", response_model=ScoreResponse, openapi_extra=json_body(ScoreRequest), responses=ERRORS)
async def score(request: Request, m: ModelDep, service: ServiceDep) -> Response:
    started = time.perf_counter()
    body = await parse_body(request, ScoreRequest)
    customer = {"customer_id": body.customer.customer_id, "signup_ts": body.customer.signup_ts}
    customer |= body.customer.attributes
    columns = {c: [t.get(c) for t in body.transactions] for c in TX_COLUMNS}
    cutoff = body.as_of or datetime.now(UTC)
    d = score_payload(m, customer, columns, cutoff, service.lookup.policy_for(m))
    metrics.SCORES.observe(d.score)
    metrics.DECISIONS.labels(d.segment, str(d.offboard).lower()).inc()
    rid = request_id.get() or str(uuid.uuid4())
    service.predictions.record({
        "request_id": rid, "time": datetime.now(UTC).isoformat(), "model_version": d.version,
        "customer_key": customer_key(body.customer.customer_id), "score": d.score, "segment": d.segment,
        "offboard": d.offboard, "latency_ms": round((time.perf_counter() - started) * 1000, 3),
    })  # fmt: skip
    out = ScoreResponse(
        request_id=rid, customer_id=body.customer.customer_id, model_version=d.version,
        score=d.score, segment=d.segment, offboard=d.offboard, rules=d.rules, reasons=d.reasons,
    )  # fmt: skip
    return Response(out.model_dump_json(), media_type="application/json")


@router.post("/score/batch", response_model=BatchResponse, openapi_extra=batch_body(), responses=ERRORS)
async def score_batch(request: Request, m: ModelDep, service: ServiceDep) -> Response:
    if request.headers.get("content-type", "").startswith(ARROW_STREAM):
        max_columns = len(m.card.features) + len(m.card.dropped) + 1
        ids, columns = arrow_columns(await read_body(request), MAX_BATCH, max_columns)
    else:
        body = await parse_body(request, BatchRequest)
        ids, columns = body.customer_id, body.features
    scores = score_columns(m, columns, ids, service.lookup.policy_for(m))
    out = BatchResponse(
        model_version=m.version, customer_id=ids, score=scores["score"].tolist(),
        segment=scores["segment"].tolist(), offboard=scores["offboard"].tolist(),
    )  # fmt: skip
    return Response(out.model_dump_json(), media_type="application/json")
