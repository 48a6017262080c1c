"""The risk console app: `uvicorn console.main:create_app --factory` (`make console`). Pages are rendered on
the server (Jinja2) with Plotly charts; customers come from the scoring service's console routes and decisions
are read and recorded through its review routes (in the signed-in staff member's name), views and decisions go
to the audit log (docs/decisions/0015-risk-console.md)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import plotly
from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from console.auth import IapVerifier, NotSignedIn, UserDep, check_token, form_token
from riskops import __version__
from riskops.core.config import Settings
from riskops.core.errors import ConfigError
from riskops.core.logs import configure_json_logging
from riskops.scoring import review
from riskops.scoring.review import AuditLog, ReviewError, User, Users

HERE = Path(__file__).parent
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"  # served locally: no CDN
QUEUE_PAGE = 200


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_json_logging(settings.log_level)
    secret = settings.console_session_secret.get_secret_value()
    if settings.environment == "production" and (secret == "development-only" or len(secret) < 32):
        raise ConfigError("the console's session secret is the development default or short",
                          "RISKOPS_CONSOLE_SESSION_SECRET", "set a random secret of 32+ characters")  # fmt: skip
    if settings.environment == "production" and settings.console_identity != "iap":
        raise ConfigError("production consoles take the identity from Identity-Aware Proxy",
                          "RISKOPS_CONSOLE_IDENTITY", "set it to iap")  # fmt: skip
    if settings.console_identity == "iap" and not settings.console_iap_audience:
        raise ConfigError("the console takes its identity from Identity-Aware Proxy but has no audience to check",
                          "RISKOPS_CONSOLE_IAP_AUDIENCE",
                          "set /projects/NUMBER/global/backendServices/ID of the console's backend")  # fmt: skip
    headers = {"x-api-key": settings.console_api_key.get_secret_value()} if settings.console_api_key else {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.service = httpx.AsyncClient(base_url=settings.console_service_url, headers=headers, timeout=10)
        yield
        await app.state.service.aclose()

    app = FastAPI(title="riskops console", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.users = Users.load(settings.console_users)
    app.state.iap = IapVerifier(settings.console_iap_audience, settings.console_iap_keys_url)
    app.state.audit = AuditLog(settings.home / "audit")
    app.add_middleware(SessionMiddleware, secret_key=secret, same_site="strict", https_only=False,
                       session_cookie="riskops_console")  # fmt: skip
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters["pct"] = _pct
    templates.env.filters["count"] = lambda n: f"{int(n):,}"
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    async def service_call(method: str, path: str, user: User | None = None, **kw: Any) -> Any:
        staff = {"x-riskops-staff": quote(user.name, safe=""), "x-riskops-staff-role": user.role} if user else {}
        r = await app.state.service.request(method, path, headers=staff, **kw)
        if r.status_code == 404:
            raise HTTPException(404, r.json().get("detail", "not found"))
        if r.status_code == 422:
            raise HTTPException(422, r.json().get("detail"))
        if r.status_code == 409:  # the review rules refused the decision
            body = r.json()
            raise ReviewError(body["detail"], body.get("where", ""), body.get("fix", ""))
        if r.status_code >= 400:
            raise HTTPException(502, f"the scoring service answered {r.status_code}: {r.text[:300]}")
        return r.json()

    async def service_get(path: str, params: dict[str, Any] | None = None) -> Any:
        return await service_call("GET", path, params={k: v for k, v in (params or {}).items() if v not in (None, "")})

    async def decisions(user: User, run_id: str | None, customer_id: str | None = None) -> Any:
        params = {k: v for k, v in {"run_id": run_id, "customer_id": customer_id}.items() if v is not None}
        answer = await service_call("GET", "/v1/review/decisions", user, params=params)
        return review.frame(answer["decisions"])

    def page(request: Request, name: str, user: User, **context: Any) -> HTMLResponse:
        context |= {"user": user, "token": form_token(secret, user), "identity": settings.console_identity}
        return templates.TemplateResponse(request, name, context)

    @app.exception_handler(NotSignedIn)
    async def _sign_in(request: Request, _: Exception) -> Response:
        return RedirectResponse(f"/signin?next={request.url.path}", status_code=303)

    @app.exception_handler(ReviewError)
    async def _refused(request: Request, e: Exception) -> Response:
        assert isinstance(e, ReviewError)
        return JSONResponse({"detail": e.what, "fix": e.fix}, status_code=409)

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    async def plotly_js() -> Response:
        return Response(PLOTLY_JS.read_bytes(), media_type="text/javascript",
                        headers={"cache-control": "max-age=86400"})  # fmt: skip

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/signin", response_class=HTMLResponse)
    async def signin_form(request: Request, next: str = "/book", error: str = "") -> HTMLResponse:
        return templates.TemplateResponse(request, "signin.html", {"next": next, "error": error, "user": None})

    @app.post("/signin")
    async def signin(
        request: Request, name: Annotated[str, Form(max_length=200)], password: Annotated[str, Form(max_length=200)],
        next: Annotated[str, Form(max_length=500)] = "/book",
    ) -> Response:  # fmt: skip
        if settings.console_identity != "local":
            raise HTTPException(404, "sign-in is Identity-Aware Proxy's on this console")
        user = app.state.users.sign_in(name, password)
        target = next if next.startswith("/") and not next.startswith("//") else "/book"
        if user is None:
            return RedirectResponse(f"/signin?error=unknown+name+or+wrong+password&next={target}", status_code=303)
        request.session["user"] = user.name
        app.state.audit.record(user, "sign_in")
        return RedirectResponse(target, status_code=303)

    @app.post("/signout")
    async def signout(request: Request) -> Response:
        request.session.clear()
        return RedirectResponse("/signin", status_code=303)

    @app.get("/")
    async def home() -> Response:
        return RedirectResponse("/book", status_code=303)

    @app.get("/search")
    async def search(user: UserDep, customer_id: Annotated[str, Query(max_length=100)] = "") -> Response:
        return RedirectResponse(f"/customers/{quote(customer_id.strip(), safe='')}", status_code=303)

    @app.get("/book", response_class=HTMLResponse)
    async def book(request: Request, user: UserDep) -> HTMLResponse:
        summary = await service_get("/v1/book/summary")
        return page(request, "book.html", user, summary=summary, summary_json=json.dumps(summary))

    @app.get("/api/book/{what}")
    async def book_api(what: str, request: Request, user: UserDep) -> Any:
        if what not in ("customers", "scatter"):
            raise HTTPException(404, f"no book view {what!r}")
        return await service_get(f"/v1/book/{what}", dict(request.query_params))

    @app.get("/customers/{customer_id}", response_class=HTMLResponse)
    async def customer(request: Request, customer_id: str, user: UserDep) -> HTMLResponse:
        profile = await service_get(f"/v1/customers/{customer_id}/profile")
        summary = await service_get("/v1/book/summary")
        app.state.audit.record(user, "view_customer", customer_id=customer_id, run_id=profile["run_id"])
        history = (await decisions(user, profile["run_id"], customer_id)).to_dict("records")
        return page(request, "customer.html", user, p=profile, history=history,
                    chart_json=json.dumps({"profile": profile, "histogram": summary["histogram"]}))  # fmt: skip

    @app.get("/review", response_class=HTMLResponse)
    async def queue(request: Request, user: UserDep, offset: int = 0) -> HTMLResponse:
        listed = await service_get("/v1/book/customers", {"offboard": "true", "limit": QUEUE_PAGE, "offset": offset})
        summary = await service_get("/v1/book/summary")
        states = review.states(await decisions(user, summary["run_id"]))
        rows = [{**r, "state": states.get(r["customer_id"])} for r in listed["rows"]]
        return page(request, "review.html", user, rows=rows, total=listed["total"], summary=summary,
                    offset=offset, page_size=QUEUE_PAGE)  # fmt: skip

    @app.post("/review/{customer_id}")
    async def decide(request: Request, customer_id: str, user: UserDep, action: Annotated[str, Form(max_length=20)],
                     comment: Annotated[str, Form(max_length=review.MAX_COMMENT + 100)],
                     run_id: Annotated[str, Form(max_length=100)],
                     token: Annotated[str, Form(max_length=100)]) -> Response:  # fmt: skip
        check_token(secret, user, token)
        row = await service_call("POST", f"/v1/review/customers/{quote(customer_id, safe='')}/decisions", user,
                                 json={"run_id": run_id, "action": action, "comment": comment})  # fmt: skip
        app.state.audit.record(user, "decide", customer_id=customer_id, run_id=run_id,
                               action=row["action"], decision_id=row["decision_id"])  # fmt: skip
        return RedirectResponse(f"/review#c-{customer_id}", status_code=303)

    @app.get("/decisions.csv")
    async def export(user: UserDep, run_id: str | None = None) -> Response:
        rows = await decisions(user, run_id)
        app.state.audit.record(user, "export_decisions", run_id=run_id, rows=len(rows))
        return Response(review.decisions_csv(rows), media_type="text/csv",
                        headers={"content-disposition": 'attachment; filename="decisions.csv"'})  # fmt: skip

    return app
