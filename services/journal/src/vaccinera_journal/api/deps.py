"""What the journal's routes depend on, besides the kit's (``vaccinera_kit.deps``)."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import Depends, Path, Request

from vaccinera_contracts.roles import Principal
from vaccinera_journal.schemas import ID_PATTERN
from vaccinera_journal.services.context import Context
from vaccinera_journal.settings import Settings
from vaccinera_kit.deps import ServiceDep
from vaccinera_kit.idempotency import IdempotentCall
from vaccinera_kit.identity_client import IdentityClient


def _identity_client(request: Request, settings: Settings) -> httpx.AsyncClient:
    """One client per process for the rare calls to identity (keeps its connections)."""
    client: httpx.AsyncClient | None = getattr(request.app.state, "identity_client", None)
    if client is None:
        client = httpx.AsyncClient(base_url=settings.identity_url, timeout=5)
        request.app.state.identity_client = client
    return client


async def get_context(request: Request, service: ServiceDep) -> Context:
    settings = service.settings_as(Settings)
    return Context(
        unit_of_work=service.unit_of_work,
        db=service.db,
        access=service.access_log,
        identity=IdentityClient(
            _identity_client(request, settings), request.headers.get("authorization")
        ),
    )


ContextDep = Annotated[Context, Depends(get_context)]
PatientId = Annotated[str, Path(pattern=ID_PATTERN)]
OrderId = Annotated[str, Path(pattern=ID_PATTERN)]
Id = Annotated[str, Path(pattern=ID_PATTERN)]
VaccineId = Annotated[str, Path(pattern=ID_PATTERN, examples=["vaccine-comirnaty"])]


def idempotent(
    request: Request, principal: Principal, operation: str, payload: Any
) -> IdempotentCall:
    """This request's Idempotency-Key, if the client sent one: a retried "Signera" is
    answered as the first, never entered (or a dose taken from the batch) twice."""
    return IdempotentCall(
        request,
        owner=f"{principal.kind}:{principal.subject}",
        operation=operation,
        payload=payload,
    )
