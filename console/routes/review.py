"""The review queue: the latest run's off-boarding list with each customer's state, filtered, sorted and
paged; a decision (or an approver's confirmation) recorded through the service; the run's decisions as CSV."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.auth import UserDep, check_token
from console.client import ServiceClient
from console.deps import ClientDep, audit, render
from riskops.core.markup import safe_csv
from riskops.scoring import review

router = APIRouter()
PAGE = 50
SCAN = 500  # the service's largest page: the list is read in pages of this size to filter by state


async def _listed(client: ServiceClient, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every listed customer matching the service-side filters, in the order asked."""
    rows: list[dict[str, Any]] = []
    while True:
        page = await client.get(
            "/v1/book/customers", {**params, "offboard": "true", "limit": SCAN, "offset": len(rows)}
        )
        rows += page["rows"]
        if not page["rows"] or len(rows) >= page["total"]:
            return rows


@router.get("/review", response_class=HTMLResponse)
async def queue(
    request: Request,
    user: UserDep,
    client: ClientDep,
    state: review.QueueView = "undecided",
    segment_: Annotated[Literal["", "Low", "Medium", "High"], Query(alias="segment")] = "",
    rule: Annotated[str, Query(max_length=100)] = "",
    q: Annotated[str, Query(max_length=100)] = "",
    sort: Literal["score", "customer_id"] = "score",
    order: Literal["asc", "desc"] = "desc",
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    summary = await client.summary()
    listed = await _listed(client, {"segment": segment_, "rule": rule, "q": q.strip(), "sort": sort, "order": order})
    states = review.states(review.frame(await client.decisions(user, summary["run_id"])))
    rows = [{**r, "state": states.get(r["customer_id"])} for r in listed]
    rows = [r for r in rows if review.in_view(state, r["state"], user)]
    audit(
        request, user, "view_queue", run_id=summary["run_id"], state=state, customers=len(rows[offset : offset + PAGE])
    )
    filters = {"state": state, "segment": segment_, "rule": rule, "q": q, "sort": sort, "order": order}
    return render(
        request,
        "review.html",
        user,
        rows=rows[offset : offset + PAGE],
        total=len(rows),
        listed=summary["offboard"],
        summary=summary,
        offset=offset,
        page_size=PAGE,
        filters=filters,
        state_filters=review.QUEUE_VIEWS,
        flash=request.session.pop("flash", ""),
    )


@router.post("/review/{customer_id:path}")
async def decide(
    request: Request,
    customer_id: str,
    user: UserDep,
    client: ClientDep,
    action: Annotated[str, Form(max_length=20)],
    comment: Annotated[str, Form(max_length=review.MAX_COMMENT + 100)],
    run_id: Annotated[str, Form(max_length=100)],
    token: Annotated[str, Form(max_length=100)],
    back: Annotated[str, Form(max_length=1000)] = "/review",
) -> Response:
    check_token(request.app.state.secret, request, user, token)
    try:
        row = await client.decide(user, customer_id, run_id, action, comment)
    except Exception as e:
        audit(
            request, user, "decide_refused", customer_id=customer_id, run_id=run_id, action=action, reason=str(e)[:500]
        )
        raise
    audit(
        request,
        user,
        "decide",
        customer_id=customer_id,
        run_id=run_id,
        action=row["action"],
        decision_id=row["decision_id"],
    )
    request.session["flash"] = f"Recorded: {row['action']} on customer {customer_id}."
    target = back if back.startswith(("/review", "/customers/")) and not back.startswith("//") else "/review"
    return RedirectResponse(target, status_code=303)


@router.get("/decisions.csv")
async def export(
    request: Request,
    user: UserDep,
    client: ClientDep,
    run_id: Annotated[str | None, Query(max_length=100)] = None,
    bom: bool = False,
) -> Response:
    rows = review.frame(await client.decisions(user, run_id))
    audit(request, user, "export_decisions", run_id=run_id, rows=len(rows))
    return Response(
        ("\ufeff" if bom else "") + safe_csv(review.decisions_table(rows)),
        media_type="text/csv",
        headers={"content-disposition": 'attachment; filename="decisions.csv"'},
    )
