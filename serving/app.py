"""The scoring service: `uvicorn serving.app:app`. Routes are thin; scoring lives in riskops.scoring.online."""
# Annotations are evaluated eagerly here: FastAPI must resolve the dependency alias defined inside create_app.

import asyncio
import contextlib
import gc
import hashlib
import hmac
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from riskops import __version__
from riskops.core.config import Settings
from riskops.core.errors import ConfigError, DataContractError
from riskops.core.logs import configure_json_logging, request_id
from riskops.features.engineering import TX_COLUMNS
from riskops.io.artifacts import open_store
from riskops.model.registry import Registry
from riskops.scoring.online import LoadedModel, LookupTable, ModelHolder, arrow_columns, score_columns, score_payload
from riskops.scoring.predlog import BigQuerySink, JsonlSink, PredictionLog, Sink, customer_key
from serving import metrics
from serving.schemas import (
    ARROW_STREAM,
    BATCH_ARROW_DOC,
    MAX_BATCH,
    MAX_BODY_BYTES,
    BatchRequest,
    BatchResponse,
    CustomerRisk,
    ModelInfo,
    ScoreRequest,
    ScoreResponse,
)

log = logging.getLogger("riskops.service")
access = logging.getLogger("riskops.access")
Body = TypeVar("Body", bound=BaseModel)
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_QUIET = {"/healthz", "/readyz", "/metrics"}  # probes and scrapes: counted, not logged


class Observe:
    """Request id, metrics and the access log as plain ASGI middleware (Starlette's BaseHTTPMiddleware costs far
    more per request). The id is the caller's X-Request-ID when it is sane, else a new UUID; it is echoed in
    the response header and carried by every log line of the request. The route label is the matched
    template, so label values stay bounded."""

    def __init__(self, app: ASGIApp, access_log: bool = True) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        rid = given if _CLIENT_ID.match(given) else str(uuid.uuid4())
        token = request_id.set(rid)

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        metrics.IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_observed)
        finally:
            metrics.IN_FLIGHT.dec()
            elapsed = time.perf_counter() - started
            path = getattr(scope.get("route"), "path", None) or "unmatched"
            metrics.REQUESTS.labels(path, f"{status // 100}xx").inc()
            metrics.LATENCY.labels(path).observe(elapsed)
            if self.access_log and path not in _QUIET:
                access.info(
                    "request",
                    extra={"method": scope["method"], "route": path, "status": status,
                           "duration_ms": round(elapsed * 1000, 3)},
                )  # fmt: skip
            request_id.reset(token)


async def read_body(request: Request) -> bytes:
    """The body, refusing more than MAX_BODY_BYTES without reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(413, f"body of {declared} bytes is over the limit of {MAX_BODY_BYTES}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPException(413, f"body is over the limit of {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def parse_body(request: Request, model: type[Body]) -> Body:
    """Validate the body in one pass with pydantic's JSON parser: FastAPI's default (json.loads, then
    validating Python objects) costs 2-3x more on large bodies. Errors are FastAPI's usual 422, with the
    field path under `body`."""
    raw = await read_body(request)
    try:
        return model.model_validate_json(raw)
    except ValidationError as e:
        errors = [
            {**err, "loc": ("body", *err["loc"])}
            for err in e.errors(include_url=False, include_context=False, include_input=False)
        ]
        raise RequestValidationError(errors) from None


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a body read by `parse_body` (FastAPI only documents bodies it parses itself)."""
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _batch_body() -> dict[str, Any]:
    body = _json_body(BatchRequest)
    body["requestBody"]["content"][ARROW_STREAM] = {
        "schema": {"type": "string", "format": "binary", "description": BATCH_ARROW_DOC}
    }
    return body


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no API key"},
    403: {"description": "API key not accepted"},
    413: {"description": "body over the size limit"},
    422: {"description": "invalid body: `detail` lists each field path and what is wrong"},
    503: {"description": "no model loaded yet"},
}


def publish_run_metrics(record: dict[str, Any]) -> None:
    """The latest published scoring run as gauges, for the pipeline dashboard and its staleness alert."""
    if "created" in record:
        metrics.RUN_TIME.set(datetime.fromisoformat(record["created"]).timestamp())
    if record.get("timings_s"):
        metrics.RUN_DURATION.set(sum(record["timings_s"].values()))
    scoring = record.get("scoring") or {}
    for segment, n in (scoring.get("segments") or {}).items():
        metrics.RUN_CUSTOMERS.labels(segment).set(n)
    if "offboard" in scoring:
        metrics.RUN_OFFBOARDED.set(scoring["offboard"])


def _sink(settings: Settings) -> Sink:
    if settings.prediction_log == "bigquery":
        from riskops.io.warehouse.bigquery import BigQueryWarehouse

        return BigQuerySink(BigQueryWarehouse.from_settings(settings).client, settings.bq_dataset)
    return JsonlSink(settings.home / "predictions")


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
    predlog: dict[str, PredictionLog] = {}
    configure_json_logging(settings.log_level)

    def refresh() -> None:
        """Look for a new champion and a newer scoring run; either failing (a store outage, a bad write) is
        logged and leaves what is served as it is, so the service starts and keeps polling regardless."""
        before = holder.load_failures
        try:
            swapped = holder.refresh()
        except Exception:
            log.exception("champion not read from %s; still serving %s", settings.artifacts,
                          holder.current and holder.current.version)  # fmt: skip
            swapped = False
        if swapped:
            metrics.MODEL_LOADS.labels("success").inc()
            metrics.MODEL.clear()
            assert holder.current is not None
            metrics.MODEL.labels(holder.current.version).set(1)
            for name in ("roc_auc", "pr_auc", "brier"):
                metrics.MODEL_METRIC.labels(name).set(float(holder.current.card.metrics[name]))
            for segment, share in holder.current.reference_shares.items():
                metrics.REFERENCE_SHARE.labels(segment).set(share)
        elif holder.load_failures > before:
            metrics.MODEL_LOADS.labels("failure").inc()
        try:
            if lookup.refresh():
                publish_run_metrics(lookup.record)
        except Exception:
            log.exception("latest scoring run not loaded from %s; lookups stay on run %s", settings.artifacts,
                          lookup.run_id)  # fmt: skip

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        predlog["sink"] = PredictionLog(_sink(settings))
        predlog["sink"].on_drop = metrics.PREDICTION_LOG_DROPS.inc
        await asyncio.to_thread(refresh)
        # Move everything loaded so far (libraries, the model) out of the collector's reach: a full collection
        # over it otherwise pauses a request for ~100 ms every few hundred requests.
        gc.freeze()

        async def poll() -> None:
            while True:
                await asyncio.sleep(settings.model_poll_s)
                await asyncio.to_thread(refresh)

        task = asyncio.create_task(poll())
        yield
        task.cancel()
        predlog["sink"].close()

    app = FastAPI(title="riskops scoring", version=__version__, root_path=settings.root_path, lifespan=lifespan)

    app.add_middleware(Observe, access_log=settings.access_log)

    async def require_key(request: Request) -> None:
        if not hashes:
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
        if not any(hmac.compare_digest(digest, h) for h in hashes):
            raise HTTPException(403, "API key not accepted")

    async def serving_model() -> LoadedModel:
        m = holder.current  # one read: the request finishes on this model whatever is swapped meanwhile
        if m is None:
            raise HTTPException(503, "no model loaded yet: train and promote a champion")
        return m

    Model = Annotated[LoadedModel, Depends(serving_model)]
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_key)])

    @v1.post("/score", response_model=ScoreResponse, openapi_extra=_json_body(ScoreRequest), responses=ERRORS)
    async def score(request: Request, m: Model) -> Response:
        started = time.perf_counter()
        body = await parse_body(request, ScoreRequest)
        customer = {"customer_id": body.customer.customer_id, "signup_ts": body.customer.signup_ts}
        customer |= body.customer.attributes
        columns = {c: [t.get(c) for t in body.transactions] for c in TX_COLUMNS}
        cutoff = body.as_of or datetime.now(UTC)
        d = score_payload(m, customer, columns, cutoff, lookup.policy_for(m))
        metrics.SCORES.observe(d.score)
        metrics.DECISIONS.labels(d.segment, str(d.offboard).lower()).inc()
        rid = request_id.get() or str(uuid.uuid4())
        predlog["sink"].record({
            "request_id": rid, "time": datetime.now(UTC).isoformat(), "model_version": d.version,
            "customer_key": customer_key(body.customer.customer_id), "score": d.score, "segment": d.segment,
            "offboard": d.offboard, "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        })  # fmt: skip
        out = ScoreResponse(
            request_id=rid, customer_id=body.customer.customer_id, model_version=d.version,
            score=d.score, segment=d.segment, offboard=d.offboard, rules=d.rules, reasons=d.reasons,
        )  # fmt: skip
        return Response(out.model_dump_json(), media_type="application/json")

    @v1.post("/score/batch", response_model=BatchResponse, openapi_extra=_batch_body(), responses=ERRORS)
    async def score_batch(request: Request, m: Model) -> Response:
        try:
            if request.headers.get("content-type", "").startswith(ARROW_STREAM):
                ids, columns = arrow_columns(
                    await read_body(request), MAX_BATCH, len(m.card.features) + len(m.card.dropped) + 1
                )
            else:
                body = await parse_body(request, BatchRequest)
                ids, columns = body.customer_id, body.features
            scores = score_columns(m, columns, ids, lookup.policy_for(m))
        except DataContractError as e:
            error = {"loc": ("body", "features"), "msg": e.what, "type": "value_error"}
            raise RequestValidationError([error]) from None
        out = BatchResponse(
            model_version=m.version, customer_id=ids, score=scores["score"].tolist(),
            segment=scores["segment"].tolist(), offboard=scores["offboard"].tolist(),
        )  # fmt: skip
        return Response(out.model_dump_json(), media_type="application/json")

    @v1.get("/customers/{customer_id}/risk", response_model=CustomerRisk)
    async def customer_risk(customer_id: str) -> Response:
        if lookup.run_id is None:
            raise HTTPException(503, "no scoring run published yet: run the scoring pipeline")
        row = lookup.rows.get(customer_id)
        if row is None:
            raise HTTPException(404, f"customer {customer_id} was not in scoring run {lookup.run_id}")
        return Response(CustomerRisk(**row).model_dump_json(), media_type="application/json")

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
            return {"status": holder.last_failure or "no model loaded"}
        return {"status": "ready", "model_version": holder.current.version}

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        schema = default_openapi()  # built once and cached by FastAPI; the bodies are added to it once
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        if "ScoreRequest" not in schemas:
            _, defs = models_json_schema(
                [(ScoreRequest, "validation"), (BatchRequest, "validation")],
                ref_template="#/components/schemas/{model}",
            )
            schemas.update(defs["$defs"])
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


app = create_app()
