"""Typed dependencies of the console's routes: the service client, the audit log, the settings, and `render`,
which fills every page with the signed-in user and a fresh form token. Templates escape every value (Jinja
autoescape); data for scripts goes through `page_json` into `<script type="application/json">`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from console.audit import AuditLog
from console.auth import form_token
from console.client import ServiceClient, segment
from riskops.core.config import Settings
from riskops.core.markup import page_json
from riskops.scoring.review import User

HERE = Path(__file__).parent


def _pct(v: float | None) -> str:
    """A score or share as a percentage with sensible precision: 0.1% steps, finer below 1%."""
    if v is None:
        return "-"
    return f"{v:.2%}" if 0 < abs(v) < 0.01 else f"{v:.1%}"


templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["pct"] = _pct
templates.env.filters["count"] = lambda n: f"{int(n):,}"
templates.env.filters["idpath"] = segment  # a customer id inside a URL path, every character encoded
templates.env.filters["page_json"] = lambda v: Markup(page_json(v))  # escaped inside: see page_json


async def get_client(request: Request) -> ServiceClient:
    client: ServiceClient = request.app.state.client
    return client


async def get_audit(request: Request) -> AuditLog:
    audit: AuditLog = request.app.state.audit
    return audit


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ClientDep = Annotated[ServiceClient, Depends(get_client)]
AuditDep = Annotated[AuditLog, Depends(get_audit)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "-"


def render(request: Request, name: str, user: User | None, status_code: int = 200, **context: Any) -> HTMLResponse:
    state = request.app.state
    token = form_token(state.secret, request, user) if user else ""
    context |= {"user": user, "token": token, "identity": state.settings.console_identity}
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def audit(request: Request, user: User, event: str, **detail: Any) -> None:
    """One audit entry: who, what, when (the log adds it) and from where."""
    audit_log: AuditLog = request.app.state.audit
    audit_log.record(user, event, address=client_address(request), path=request.url.path, **detail)
