"""``/health`` says the process is alive; ``/ready`` says it can do work (broker and database)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

if TYPE_CHECKING:
    from vaccinera_kit.app import Service

router = APIRouter(tags=["health"])


@router.get("/health", summary="Alive")
async def health(request: Request) -> dict[str, str]:
    service: Service = request.app.state.service
    return {"status": "alive", "service": service.settings.service_name}


@router.get("/ready", summary="Ready: broker and database reachable")
async def ready(request: Request) -> JSONResponse:
    service: Service = request.app.state.service
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
