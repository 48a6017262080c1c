"""Local sign-in and sign-out (behind Identity-Aware Proxy there is neither: the proxy signs users in)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.deps import SettingsDep, audit, client_address, render
from riskops.scoring.review import User

router = APIRouter()
# What the sign-in page may say: a code in the query string picks one; no text from a URL is ever shown.
MESSAGES = {
    "failed": "Unknown name or wrong password.",
    "locked": "Too many failed sign-ins: this name is locked for a while. Try again later or ask an administrator.",
    "ended": "Your session has ended. Sign in again.",
    "signed-out": "You are signed out.",
}


def _target(next: str) -> str:
    return next if next.startswith("/") and not next.startswith(("//", "/\\")) else "/book"


@router.get("/signin", response_class=HTMLResponse)
async def signin_form(request: Request, next: str = "/book", error: str = "") -> HTMLResponse:
    return render(request, "signin.html", None, next=_target(next[:500]), error=MESSAGES.get(error, ""))


@router.post("/signin")
async def signin(
    request: Request,
    settings: SettingsDep,
    name: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "/book",
) -> Response:
    if settings.console_identity != "local":
        raise HTTPException(404, "sign-in is Identity-Aware Proxy's on this console")
    state = request.app.state
    target = _target(next)
    address = client_address(request)
    who = User(name=name.strip()[:200] or "-", role=state.users.role_of(name))
    locked = state.guard.locked_until(name, address)
    if locked is not None:
        until = datetime.fromtimestamp(locked, UTC).isoformat(timespec="seconds")
        audit(request, who, "sign_in_refused", reason="locked", until=until)
        return RedirectResponse(f"/signin?error=locked&next={target}", status_code=303)
    user = state.users.sign_in(name, password)
    if user is None:
        await asyncio.sleep(state.guard.failed(name, address))  # slows a guesser down, not a person
        audit(request, who, "sign_in_failed")
        return RedirectResponse(f"/signin?error=failed&next={target}", status_code=303)
    state.guard.succeeded(name)
    request.session.clear()
    request.session["sid"] = state.sessions.start(user.name)
    audit(request, user, "sign_in")
    return RedirectResponse(target, status_code=303)


@router.post("/signout")
async def signout(request: Request) -> Response:
    sid = request.session.get("sid")
    name = request.app.state.sessions.user(sid) if isinstance(sid, str) else None
    if isinstance(sid, str):
        request.app.state.sessions.end(sid)
    if name:
        audit(request, User(name=name, role=request.app.state.users.role_of(name)), "sign_out")
    request.session.clear()
    return RedirectResponse("/signin?error=signed-out", status_code=303)
