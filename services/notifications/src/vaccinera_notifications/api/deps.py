"""What notifications' routes depend on, besides the kit's (``vaccinera_kit.deps``)."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import Depends, Request

from vaccinera_kit.deps import ServiceDep
from vaccinera_notifications.identity import Identity
from vaccinera_notifications.settings import Settings


def _identity_client(request: Request, settings: Settings) -> httpx.AsyncClient:
    """One client per process for the calls to identity (keeps its connections)."""
    client: httpx.AsyncClient | None = getattr(request.app.state, "identity_client", None)
    if client is None:
        client = httpx.AsyncClient(
            base_url=settings.identity_url, timeout=settings.identity_timeout_seconds
        )
        request.app.state.identity_client = client
    return client


async def get_identity(request: Request, service: ServiceDep) -> Identity:
    """Identity, asked with the caller's own authorization."""
    client = _identity_client(request, service.settings_as(Settings))
    return Identity(client, request.headers.get("authorization"))


IdentityDep = Annotated[Identity, Depends(get_identity)]
