"""The risk console app: `uvicorn console.main:create_app --factory` (`make console`). Pages are rendered on
the server (Jinja2, every value escaped) with Plotly charts drawn by the console's own script; customers come
from the scoring service's console routes and decisions are read and recorded through its review routes (in
the signed-in staff member's name); every sign-in, read of customer data, export and decision goes to the
audit log (docs/decisions/0015-risk-console.md, docs/security.md). Every answer carries a strict
Content-Security-Policy: script only from the console itself, no inline script, no other host."""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import plotly
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from console.audit import AuditLog
from console.auth import SESSION_MAX_S, IapVerifier, NotSignedIn, Sessions, SignInGuard
from console.client import ServiceClient, ServiceError
from console.deps import HERE, render
from console.routes import book, customers, models, review, session
from console.users import Users
from riskops import __version__
from riskops.core.config import Settings
from riskops.core.errors import ConfigError
from riskops.core.logs import configure_json_logging

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"  # served locally: no CDN
DEV_SECRETS = ("", "development-only")
# Self only: no inline script, no eval, no other host; Plotly sets inline styles on its SVG, hence style-src.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}
log = logging.getLogger("riskops.console")


def _secret(settings: Settings) -> str:
    secret = settings.console_session_secret.get_secret_value()
    if settings.environment == "production" and (secret in DEV_SECRETS or len(secret) < 32):
        raise ConfigError(
            "the console's session secret is the development default or short",
            "RISKOPS_CONSOLE_SESSION_SECRET",
            "set a random secret of 32+ characters",
        )
    if secret in DEV_SECRETS:  # never a public default: sessions are the process's own anyway
        log.warning("no RISKOPS_CONSOLE_SESSION_SECRET: a random one was generated; sessions end with the process")
        return secrets.token_urlsafe(48)
    return secret


def _check(settings: Settings) -> None:
    if settings.environment == "production" and settings.console_identity != "iap":
        raise ConfigError(
            "production consoles take the identity from Identity-Aware Proxy",
            "RISKOPS_CONSOLE_IDENTITY",
            "set it to iap",
        )
    if settings.console_identity == "iap" and not settings.console_iap_audience:
        raise ConfigError(
            "the console takes its identity from Identity-Aware Proxy but has no audience to check",
            "RISKOPS_CONSOLE_IAP_AUDIENCE",
            "set /projects/NUMBER/global/backendServices/ID of the console's backend",
        )


def _wants_page(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "text/html")


def _error(request: Request, status: int, what: str, fix: str = "") -> Response:
    """An error as a page in the console's layout (what happened, what to do, a way back), or JSON for scripts."""
    if not _wants_page(request):
        return JSONResponse({"detail": what, "fix": fix}, status_code=status)
    return render(request, "error.html", None, status_code=status, status=status, what=what, fix=fix)


def add_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotSignedIn)
    async def _sign_in(request: Request, _: Exception) -> Response:
        if not _wants_page(request):
            return JSONResponse({"detail": "not signed in", "fix": "sign in again"}, status_code=401)
        return RedirectResponse(f"/signin?error=ended&next={request.url.path}", status_code=303)

    @app.exception_handler(ServiceError)
    async def _service(request: Request, e: Exception) -> Response:
        assert isinstance(e, ServiceError)
        fix = e.fix or {404: "check the id, or search for it", 503: "run the scoring pipeline, then reload"}.get(
            e.status, ""
        )
        return _error(request, e.status, e.what, fix)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, e: Exception) -> Response:
        assert isinstance(e, HTTPException)
        return _error(request, e.status_code, str(e.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: Exception) -> Response:
        assert isinstance(e, RequestValidationError)
        what = "; ".join(f"{'.'.join(str(x) for x in d['loc'])}: {d['msg']}" for d in e.errors())
        return _error(request, 422, f"the request was refused: {what}", "go back and correct it")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.load()
    configure_json_logging(settings.log_level)
    _check(settings)
    secret = _secret(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.client = ServiceClient(settings.console_service_url, settings.console_api_key.get_secret_value())
        yield
        await app.state.client.close()

    app = FastAPI(
        title="riskops console", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.settings, app.state.secret = settings, secret
    app.state.users = Users.load(settings.console_users)
    app.state.iap = IapVerifier(settings.console_iap_audience, settings.console_iap_keys_url)
    app.state.audit = AuditLog(settings.home / "audit")
    app.state.sessions, app.state.guard = Sessions(), SignInGuard()
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret,
        same_site="strict",
        https_only=False,
        session_cookie="riskops_console",
        max_age=SESSION_MAX_S,
    )

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.update(HEADERS)
        if response.headers.get("content-type", "").startswith(("text/html", "application/json", "text/csv")):
            response.headers["cache-control"] = "no-store"  # customer data stays out of shared caches
        return response

    add_handlers(app)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    async def plotly_js() -> Response:
        return Response(
            PLOTLY_JS.read_bytes(), media_type="text/javascript", headers={"cache-control": "max-age=86400"}
        )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for module in (session, book, customers, review, models):
        app.include_router(module.router)
    return app
