"""The models page: every registered version with who registered it, its holdout figures and its approval log;
a validator approves (the version awaiting approval becomes the champion) or rejects one, through the service,
in their own name. Four eyes are the library's: the registering person's approval is refused there."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.auth import UserDep, check_token
from console.client import segment
from console.deps import ClientDep, audit, render

router = APIRouter()


@router.get("/models", response_class=HTMLResponse)
async def page(request: Request, user: UserDep, client: ClientDep) -> HTMLResponse:
    answer = await client.get("/v1/models", user=user)
    audit(request, user, "view_models", versions=len(answer["versions"]))
    return render(
        request,
        "models.html",
        user,
        versions=answer["versions"],
        approval_required=answer["approval_required"],
        flash=request.session.pop("flash", ""),
    )


@router.get("/models/{version}/card", response_class=HTMLResponse)
async def card(request: Request, version: str, user: UserDep, client: ClientDep) -> HTMLResponse:
    page_ = await client.get(f"/v1/models/{segment(version)}/card", user=user)
    audit(request, user, "view_model_card", version=version)
    return render(request, "card.html", user, card=page_)


@router.post("/models/{version}")
async def decide(
    request: Request,
    version: str,
    user: UserDep,
    client: ClientDep,
    action: Annotated[Literal["approved", "rejected"], Form()],
    token: Annotated[str, Form(max_length=100)],
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    check_token(request.app.state.secret, request, user, token)
    try:
        answer = await client.call(
            "POST", f"/v1/models/{segment(version)}/approval", user, json={"action": action, "comment": comment}
        )
    except Exception as e:
        audit(request, user, "model_decision_refused", version=version, action=action, reason=str(e)[:500])
        raise
    audit(request, user, "model_decision", version=version, action=action, champion=answer["champion"])
    became = "; it is now the champion" if answer["champion"] else ""
    request.session["flash"] = f"Recorded: model {version} {action} by {user.name}{became}."
    return RedirectResponse("/models", status_code=303)
