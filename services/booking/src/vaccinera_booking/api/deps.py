"""What booking's routes depend on, besides the kit's (``vaccinera_kit.deps``)."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import Depends, Request

from vaccinera_booking.identity import Identity
from vaccinera_booking.services.context import Context
from vaccinera_booking.settings import Settings
from vaccinera_contracts.roles import Principal
from vaccinera_kit.deps import ServiceDep
from vaccinera_kit.idempotency import IdempotentCall


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
        identity=Identity(
            _identity_client(request, settings), request.headers.get("authorization")
        ),
        settings=settings,
        sealer=request.app.state.manage_code_sealer,
    )


ContextDep = Annotated[Context, Depends(get_context)]


def idempotent(
    request: Request, principal: Principal, operation: str, payload: Any
) -> IdempotentCall:
    """This request's Idempotency-Key, if the client sent one (issue 7 item 9)."""
    return IdempotentCall(
        request,
        owner=f"{principal.kind}:{principal.subject}",
        operation=operation,
        payload=payload,
    )


def client_address(request: Request) -> str | None:
    """The caller's address, for limiting anonymous attempts (BK-2). Behind the gateway it is
    the address the gateway forwards in X-Forwarded-For, which uvicorn believes from the
    addresses in ``FORWARDED_ALLOW_IPS`` (default: loopback; in a deployment, the gateway's)."""
    return request.client.host if request.client else None
