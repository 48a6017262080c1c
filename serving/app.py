"""The scoring service: `uvicorn serving.app:app`. Routes are thin; scoring lives in riskops.online."""
# Annotations are evaluated eagerly here: FastAPI must resolve the dependency alias defined inside create_app.

import asyncio
import contextlib
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from riskops import __version__
from riskops.artifacts import open_store
from riskops.config import Settings
from riskops.errors import ConfigError, DataContractError
from riskops.offboard import OffboardConfig
from riskops.online import LoadedModel, LookupTable, ModelHolder, score_columns, score_payload
from riskops.predlog import PredictionLog, customer_key
from riskops.registry import Registry
from serving import metrics
from serving.schemas import (
    BatchRequest,
    BatchResponse,
    CustomerRisk,
    ModelInfo,
    ScoreRequest,
    ScoreResponse,
)


class Observe:
    """Request metrics as plain ASGI middleware (Starlette's BaseHTTPMiddleware costs far more per request).
    The route label is the matched template, so label values stay bounded."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        metrics.IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_observed)
        finally:
            metrics.IN_FLIGHT.dec()
            path = getattr(scope.get("route"), "path", None) or "unmatched"
            metrics.REQUESTS.labels(path, f"{status // 100}xx").inc()
            metrics.LATENCY.labels(path).observe(time.perf_counter() - started)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    hashes = {h.strip().lower() for h in settings.api_key_hashes.split(",") if h.strip()}
    if settings.environment == "production" and not hashes:
        raise ConfigError(
            "refusing to start in production without API keys",
            "RISKOPS_API_KEY_HASHES",
            "set it to comma-separated SHA-256 hex digests of the accepted keys",
        )
    store = open_store(settings.artifacts, settings.gcs_endpoint)
    holder = ModelHolder(Registry(store))
    lookup = LookupTable(store)
    offboard = OffboardConfig()
    predlog: dict[str, PredictionLog] = {}

    def refresh() -> None:
        before = holder.load_failures
        if holder.refresh():
            metrics.MODEL_LOADS.labels("success").inc()
            metrics.MODEL.clear()
            assert holder.current is not None
            metrics.MODEL.labels(holder.current.version).set(1)
        elif holder.load_failures > before:
            metrics.MODEL_LOADS.labels("failure").inc()
        lookup.refresh()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        predlog["sink"] = PredictionLog(settings.home / "predictions")
        await asyncio.to_thread(refresh)

        async def poll() -> None:
            while True:
                await asyncio.sleep(settings.model_poll_s)
                await asyncio.to_thread(refresh)

        task = asyncio.create_task(poll())
        yield
        task.cancel()
        predlog["sink"].close()

    app = FastAPI(title="riskops scoring", version=__version__, root_path=settings.root_path, lifespan=lifespan)

    app.add_middleware(Observe)

    async def require_key(request: Request) -> None:
        if not hashes:
            return  # development without keys: open
        key = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
        if not key:
            raise HTTPException(401, "missing API key: send it as X-API-Key or Authorization: Bearer")
        digest = hashlib.sha256(key.encode()).hexdigest()
        if not any(hmac.compare_digest(digest, h) for h in hashes):
            raise HTTPException(403, "API key not accepted")

    async def serving_model() -> LoadedModel:
        m = holder.current  # one read: the request finishes on this model whatever is swapped meanwhile
        if m is None:
            raise HTTPException(503, "no model loaded yet: train and promote a champion")
        return m

    Model = Annotated[LoadedModel, Depends(serving_model)]
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_key)])

    @v1.post("/score", response_model=ScoreResponse)
    async def score(body: ScoreRequest, m: Model) -> ScoreResponse:
        started = time.perf_counter()
        customer = {"customer_id": body.customer.customer_id, "signup_ts": body.customer.signup_ts}
        customer |= body.customer.attributes
        cutoff = body.as_of or datetime.now(UTC)
        d = score_payload(m, customer, [t.model_dump() for t in body.transactions], cutoff, offboard)
        metrics.SCORES.observe(d.score)
        metrics.DECISIONS.labels(d.segment, str(d.offboard).lower()).inc()
        request_id = str(uuid.uuid4())
        logged = predlog["sink"].record({
            "request_id": request_id, "time": datetime.now(UTC).isoformat(), "model_version": d.version,
            "customer_key": customer_key(body.customer.customer_id), "score": d.score, "segment": d.segment,
            "offboard": d.offboard, "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        })  # fmt: skip
        if not logged:
            metrics.PREDICTION_LOG_DROPS.inc()
        return ScoreResponse(
            request_id=request_id, customer_id=body.customer.customer_id, model_version=d.version,
            score=d.score, segment=d.segment, offboard=d.offboard, rules=d.rules, reasons=d.reasons,
        )  # fmt: skip

    @v1.post("/score/batch", response_model=BatchResponse)
    async def score_batch(body: BatchRequest, m: Model) -> BatchResponse:
        try:
            scores = score_columns(m, body.features, body.customer_id, offboard)
        except DataContractError as e:
            raise HTTPException(422, e.what) from e
        return BatchResponse(
            model_version=m.version, customer_id=body.customer_id, score=scores["score"].tolist(),
            segment=scores["segment"].tolist(), offboard=scores["offboard"].tolist(),
        )  # fmt: skip

    @v1.get("/customers/{customer_id}/risk", response_model=CustomerRisk)
    async def customer_risk(customer_id: str) -> CustomerRisk:
        if lookup.run_id is None:
            raise HTTPException(503, "no scoring run published yet: run the scoring pipeline")
        row = lookup.rows.get(customer_id)
        if row is None:
            raise HTTPException(404, f"customer {customer_id} was not in scoring run {lookup.run_id}")
        return CustomerRisk(**row)

    @v1.get("/model", response_model=ModelInfo)
    async def model_info(m: Model) -> ModelInfo:
        c = m.card
        return ModelInfo(
            version=c.version, trained_at=c.created, as_of=c.as_of, rows=c.rows, threshold=c.threshold,
            metrics={k: float(c.metrics[k]) for k in ("roc_auc", "pr_auc", "brier")}, loaded_at=m.loaded_at,
        )  # fmt: skip

    app.include_router(v1)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz")
    async def readyz(response: Response) -> dict[str, str]:
        if holder.current is None:
            response.status_code = 503
            return {"status": "no model loaded"}
        return {"status": "ready", "model_version": holder.current.version}

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


app = create_app()
