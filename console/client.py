"""The console's HTTP client to the scoring service: every customer read and every decision goes through it,
with the console's own key and, for review calls, the staff member it asserts. What the service answers as an
error is forwarded as the service wrote it (`ServiceError`); the console shows it as a page or as JSON."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from riskops.scoring.review import User


class ServiceError(Exception):
    """The service refused or failed a call: its status, what it said, where and what to do."""

    def __init__(self, status: int, what: str, where: str = "", fix: str = "") -> None:
        super().__init__(what)
        self.status, self.what, self.where, self.fix = status, what, where, fix


def segment(value: str) -> str:
    """A customer id as one URL path segment: `/`, `?`, `#`, `..` and every other character encoded."""
    return quote(value, safe="")


def _detail(r: httpx.Response) -> tuple[str, str, str]:
    try:
        body = r.json()
    except ValueError:
        return r.text[:300] or r.reason_phrase, "", ""
    detail = body.get("detail") if isinstance(body, dict) else body
    if isinstance(detail, list):  # a 422: the fields pydantic named
        detail = "; ".join(f"{'.'.join(str(x) for x in d.get('loc', []))}: {d.get('msg')}" for d in detail)
    return str(detail), str(body.get("where", "")), str(body.get("fix", ""))


class ServiceClient:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url
        headers = {"x-api-key": api_key} if api_key else {}
        self.http = httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10)

    async def close(self) -> None:
        await self.http.aclose()

    async def call(self, method: str, path: str, user: User | None = None, **kw: Any) -> Any:
        staff = {"x-riskops-staff": quote(user.name, safe=""), "x-riskops-staff-role": user.role} if user else {}
        try:
            r = await self.http.request(method, path, headers=staff, **kw)
        except httpx.TransportError as e:
            raise ServiceError(
                503,
                f"the scoring service at {self.base_url} cannot be reached ({type(e).__name__})",
                "the console's service URL",
                "start the service (make serve) or check RISKOPS_CONSOLE_SERVICE_URL, then reload the page",
            ) from e
        if r.status_code in (404, 409, 422, 503):
            raise ServiceError(r.status_code, *_detail(r))
        if r.status_code >= 400:
            what, _, _ = _detail(r)
            raise ServiceError(
                502,
                f"the scoring service answered {r.status_code}: {what}",
                "the scoring service",
                "see the service's log; reload the page",
            )
        return r.json()

    async def get(self, path: str, params: dict[str, Any] | None = None, user: User | None = None) -> Any:
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        return await self.call("GET", path, user, params=clean)

    async def profile(self, customer_id: str) -> dict[str, Any]:
        profile: dict[str, Any] = await self.get(f"/v1/customers/{segment(customer_id)}/profile")
        return profile

    async def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = await self.get("/v1/book/summary")
        return summary

    async def decisions(self, user: User, run_id: str | None, customer_id: str | None = None) -> list[dict[str, Any]]:
        answer = await self.get("/v1/review/decisions", {"run_id": run_id, "customer_id": customer_id}, user)
        rows: list[dict[str, Any]] = answer["decisions"]
        return rows

    async def decide(self, user: User, customer_id: str, run_id: str, action: str, comment: str) -> dict[str, Any]:
        row: dict[str, Any] = await self.call(
            "POST",
            f"/v1/review/customers/{segment(customer_id)}/decisions",
            user,
            json={"run_id": run_id, "action": action, "comment": comment},
        )
        return row

    async def what_if(self, customer_id: str, changes: dict[str, float]) -> dict[str, Any]:
        answer: dict[str, Any] = await self.call(
            "POST", f"/v1/customers/{segment(customer_id)}/what-if", json={"changes": changes}
        )
        return answer
