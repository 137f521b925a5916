"""What the inventory's routes depend on, besides the kit's (``vaccinera_kit.deps``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Request

from vaccinera_contracts.roles import Principal
from vaccinera_inventory.schemas import ID_PATTERN
from vaccinera_inventory.services.context import Context
from vaccinera_kit.deps import ServiceDep
from vaccinera_kit.idempotency import IdempotentCall


async def get_context(service: ServiceDep) -> Context:
    return Context(unit_of_work=service.unit_of_work, db=service.db)


ContextDep = Annotated[Context, Depends(get_context)]
UnitId = Annotated[str, Path(pattern=ID_PATTERN, examples=["unit-centrum"])]
BatchId = Annotated[str, Path(pattern=ID_PATTERN)]
VaccineId = Annotated[str, Path(pattern=ID_PATTERN, examples=["vaccine-comirnaty"])]


def idempotent(
    request: Request, principal: Principal, operation: str, payload: Any
) -> IdempotentCall:
    """This request's Idempotency-Key, if the client sent one: a retried check-in or discard
    is answered as the first, never counted twice."""
    return IdempotentCall(
        request,
        owner=f"{principal.kind}:{principal.subject}",
        operation=operation,
        payload=payload,
    )
