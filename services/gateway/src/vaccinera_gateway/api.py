"""Gateway routes: forwarding, merged OpenAPI, and health of every service."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from vaccinera_contracts.access import PUBLIC_PATHS, find_operation
from vaccinera_gateway import domain
from vaccinera_kit.auth import ASSIGNMENT_HEADER, bearer_token, with_active_assignment
from vaccinera_kit.errors import BadRequest, ErrorBody, Forbidden, NotFound, Unauthorized
from vaccinera_kit.telemetry import current_trace_headers
from vaccinera_kit.web import error_response

router = APIRouter()
routers = (router,)


def _upstreams(request: Request) -> Any:
    return request.app.state.upstreams


@router.get("/health", tags=["health"], summary="Alive, with the readiness of every service")
async def health(request: Request) -> dict[str, Any]:
    readiness = await _upstreams(request).readiness()
    all_ready = all(r["status"] == "ready" for r in readiness.values())
    return {"status": "ok" if all_ready else "degraded", "gateway": "alive", "services": readiness}


@router.get("/ready", tags=["health"], summary="Ready when every service is ready")
async def ready(request: Request) -> JSONResponse:
    readiness = await _upstreams(request).readiness()
    ok = all(r["status"] == "ready" for r in readiness.values())
    return JSONResponse(
        {"status": "ready" if ok else "not_ready", "services": readiness},
        status_code=200 if ok else 503,
    )


@router.api_route(
    "/api/{service}/{path:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
async def forward(service: str, path: str, request: Request) -> Response:
    upstreams = _upstreams(request)
    base = upstreams.urls.get(service)
    if base is None:
        raise NotFound(
            f"No service called {service!r}. Known: {', '.join(sorted(upstreams.urls))}."
        )
    await _authorize(request, service, f"/{path}")
    headers = domain.forwardable(request.headers)
    headers.update(current_trace_headers())
    try:
        upstream = await upstreams.client.request(
            request.method,
            base + domain.upstream_path(request.scope, service, path),
            content=await request.body(),
            headers=headers,
        )
    except httpx.InvalidURL as exc:
        raise BadRequest("The address contains characters that are not allowed.") from exc
    except httpx.TimeoutException:
        # Rare: the service's own deadline is shorter. Whether it finished is unknown here.
        return error_response(
            ErrorBody(
                status=504,
                code="upstream_timeout",
                message=f"The {service} service did not answer in time. Retry with the same "
                "Idempotency-Key to be sure nothing happens twice.",
            )
        )
    except httpx.TransportError:
        return error_response(
            ErrorBody(
                status=503,
                code="service_unavailable",
                message=f"The {service} service is not reachable right now. Try again shortly.",
            )
        )
    return Response(
        content=upstream.content,
        status_code=upstream.status_code,
        headers=domain.forwardable(upstream.headers),
    )


async def _authorize(request: Request, service: str, path: str) -> None:
    """The authorization matrix, checked here first; the service checks it again (AC-3)."""
    if path in PUBLIC_PATHS:
        return
    op = find_operation(service, request.method, path)
    if op is None:
        raise NotFound(f"The {service} service has no {request.method} {path}.")
    if op.anonymous:
        return
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("Log in first: this needs a bearer token.", code="token_missing")
    principal = await request.app.state.token_verifier.verify(token)
    principal = with_active_assignment(principal, request.headers.get(ASSIGNMENT_HEADER))
    if not op.allows(principal):
        raise Forbidden(op.denial(principal), code="not_allowed")


class Upstreams:
    """The services behind the gateway and one pooled HTTP client to reach them."""

    def __init__(self, urls: dict[str, str], timeout: float) -> None:
        self.urls = urls
        # A rush is many requests at once: the gateway's pool must not be the queue.
        self.client = httpx.AsyncClient(
            timeout=timeout,
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200),
        )

    async def readiness(self) -> dict[str, dict[str, Any]]:
        async def one(name: str, base: str) -> tuple[str, dict[str, Any]]:
            try:
                response = await self.client.get(f"{base}/ready", timeout=3.0)
                body = response.json()
                return name, {"status": body.get("status", "unknown"), "checks": body.get("checks")}
            except (httpx.HTTPError, ValueError):
                return name, {"status": "unreachable", "checks": None}

        results = await asyncio.gather(*(one(n, u) for n, u in self.urls.items()))
        return dict(sorted(results))

    async def openapi_documents(self) -> dict[str, dict[str, Any] | None]:
        async def one(name: str, base: str) -> tuple[str, dict[str, Any] | None]:
            try:
                response = await self.client.get(f"{base}/openapi.json", timeout=5.0)
                response.raise_for_status()
                return name, response.json()
            except (httpx.HTTPError, ValueError):
                return name, None

        return dict(await asyncio.gather(*(one(n, u) for n, u in self.urls.items())))
