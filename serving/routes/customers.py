"""GET /v1/customers/{id}/risk: a customer's score and reasons from the latest published scoring run."""

from __future__ import annotations

from fastapi import APIRouter, Response

from serving.deps import ServiceDep
from serving.errors import NotFound, NotReady
from serving.schemas import CustomerRisk

router = APIRouter(prefix="/v1")  # in the router itself: the metrics label the route by its full path


@router.get("/customers/{customer_id:path}/risk", response_model=CustomerRisk)
async def customer_risk(customer_id: str, service: ServiceDep) -> Response:
    lookup = service.lookup
    if lookup.run_id is None:
        raise NotReady("no scoring run published yet: run the scoring pipeline")
    row = lookup.row(customer_id)
    if row is None:
        raise NotFound(f"customer {customer_id} was not in scoring run {lookup.run_id}")
    return Response(CustomerRisk(**row).model_dump_json(), media_type="application/json")
