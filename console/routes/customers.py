"""A customer: the client view (score, decision and form, reasons, what moves the score, comparisons, history)
and the case for the file (one printable page)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.auth import UserDep, check_token
from console.client import ServiceClient, segment
from console.deps import ClientDep, audit, render
from riskops.scoring import review
from riskops.scoring.review import User

router = APIRouter()


@router.get("/search")
async def search(user: UserDep, client: ClientDep, customer_id: Annotated[str, Query(max_length=100)] = "") -> Response:
    """An exact id opens the customer; otherwise the book lists the ids starting with it (any case)."""
    wanted = customer_id.strip()
    if not wanted:
        return RedirectResponse("/book", status_code=303)
    found = await client.get("/v1/book/customers", {"q": wanted, "limit": 2, "sort": "customer_id", "order": "asc"})
    ids = [r["customer_id"] for r in found["rows"]]
    exact = [i for i in ids if i.lower() == wanted.lower()]
    target = exact[0] if exact else ids[0] if found["total"] == 1 else None
    if target is not None:
        return RedirectResponse(f"/customers/{segment(target)}", status_code=303)
    return RedirectResponse(f"/review?q={segment(wanted)}&state=all", status_code=303)


async def _case(client: ServiceClient, user: User, customer_id: str) -> dict[str, Any]:
    profile = await client.profile(customer_id)
    history = await client.decisions(user, profile["run_id"], customer_id)
    state = review.states(review.frame(history)).get(customer_id)
    return {"p": profile, "history": history, "st": state}


@router.get("/case/{customer_id:path}", response_class=HTMLResponse)
async def case(request: Request, customer_id: str, user: UserDep, client: ClientDep) -> HTMLResponse:
    context = await _case(client, user, customer_id)
    audit(request, user, "export_case", customer_id=customer_id, run_id=context["p"]["run_id"])
    return render(request, "case.html", user, **context)


@router.get("/customers/{customer_id:path}", response_class=HTMLResponse)
async def customer(request: Request, customer_id: str, user: UserDep, client: ClientDep) -> HTMLResponse:
    context = await _case(client, user, customer_id)
    summary = await client.summary()
    audit(request, user, "view_customer", customer_id=customer_id, run_id=context["p"]["run_id"])
    return render(
        request,
        "customer.html",
        user,
        **context,
        flash=request.session.pop("flash", ""),
        chart={"profile": context["p"], "histogram": summary["histogram"]},
    )


@router.post("/api/what-if/{customer_id:path}")
async def what_if(
    request: Request,
    customer_id: str,
    user: UserDep,
    client: ClientDep,
    token: Annotated[str, Form(max_length=100)],
    feature: Annotated[list[str], Form(max_length=2)],
    value: Annotated[list[str], Form(max_length=2)],
) -> dict[str, Any]:
    """The client view's what-if: the service scores the edited vector; nothing is recorded."""
    check_token(request.app.state.secret, request, user, token)
    changes: dict[str, float] = {}
    for f, v in zip(feature, value, strict=False):
        if f and v.strip():
            try:
                changes[f[:100]] = float(v)
            except ValueError:
                raise HTTPException(422, f"{v[:50]!r} is not a number: give the new value of {f[:100]}") from None
    if not changes:
        raise HTTPException(422, "choose a feature and give it a new value")
    answer = await client.what_if(customer_id, changes)
    audit(request, user, "what_if", customer_id=customer_id, changes=changes)
    return answer
