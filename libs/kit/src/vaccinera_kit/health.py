"""``/health`` says the process is alive; ``/ready`` says it can do work (broker and database).

The routes ask the running service (``request.app.state.service``) through ``Probed``, so this
module needs nothing of ``app.py``, which includes it.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from vaccinera_kit.settings import HttpSettings

router = APIRouter(tags=["health"])


class Probed(Protocol):
    """What the health routes need of a running service."""

    @property
    def settings(self) -> HttpSettings: ...

    async def readiness(self) -> dict[str, bool]: ...


def _service(request: Request) -> Probed:
    service: Probed = request.app.state.service
    return service


@router.get("/health", summary="Alive")
async def health(request: Request) -> dict[str, str]:
    return {"status": "alive", "service": _service(request).settings.service_name}


@router.get("/ready", summary="Ready: broker and database reachable")
async def ready(request: Request) -> JSONResponse:
    service = _service(request)
    checks = await service.readiness()
    ok = all(checks.values())
    body: dict[str, Any] = {
        "status": "ready" if ok else "not_ready",
        "service": service.settings.service_name,
        "checks": {k: "ok" if v else "unreachable" for k, v in checks.items()},
    }
    return JSONResponse(body, status_code=200 if ok else 503)


async def with_timeout(check: Any, limit: float = 2.0) -> bool:
    try:
        return bool(await asyncio.wait_for(check, limit))
    except Exception:
        return False
