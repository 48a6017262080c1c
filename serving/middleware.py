"""Request id, metrics and the access log for every request."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from riskops.core.logs import request_id
from serving import metrics

access = logging.getLogger("riskops.access")
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
                    extra={
                        "method": scope["method"],
                        "route": path,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                    },
                )
            request_id.reset(token)
