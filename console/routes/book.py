"""The book: its summary and charts as a page, its table and scatter as JSON for the page's script."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from console.auth import UserDep
from console.deps import ClientDep, audit, render

router = APIRouter()


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/book", status_code=303)


@router.get("/book", response_class=HTMLResponse)
async def book(request: Request, user: UserDep, client: ClientDep) -> HTMLResponse:
    summary = await client.summary()
    audit(request, user, "view_book", run_id=summary["run_id"])
    return render(request, "book.html", user, summary=summary)


@router.get("/api/book/{what}")
async def book_api(what: str, request: Request, user: UserDep, client: ClientDep) -> Any:
    if what not in ("customers", "scatter"):
        raise HTTPException(404, f"no book view {what!r}: use customers or scatter")
    params = dict(request.query_params)
    answer = await client.get(f"/v1/book/{what}", params)
    shown = len(answer.get("rows", answer.get("ids", [])))
    audit(request, user, f"read_book_{what}", query=params, customers=shown)
    return answer
