"""Gateway routes: forwarding, merged OpenAPI, and health of every service."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.routing import Route
from yarl import URL

from vaccinera_contracts.access import PUBLIC_PATHS, find_operation
from vaccinera_gateway import domain
from vaccinera_kit.auth import ASSIGNMENT_HEADER, bearer_token, with_active_assignment
from vaccinera_kit.errors import BadRequest, ErrorBody, Forbidden, NotFound, Unauthorized
from vaccinera_kit.telemetry import current_trace_headers
from vaccinera_kit.web import error_response

router = APIRouter()
routers = (router,)

FORWARD_PATH = "/api/{service}/{path:path}"
FORWARD_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Shorter than the services keep an idle connection (uvicorn: 75 s), so the gateway always
# drops it first: a server closing it just as a request goes out would lose that request.
KEEPALIVE_SECONDS = 30.0
# A rush is many requests at once: the gateway's pool must not be the queue.
MAX_CONNECTIONS = 1000


def _upstreams(request: Request) -> Upstreams:
    upstreams: Upstreams = request.app.state.upstreams
    return upstreams


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


async def forward(request: Request) -> Response:
    """``/api/{service}/{path}``: checked against the matrix, then relayed to the service."""
    upstreams = _upstreams(request)
    service: str = request.path_params["service"]
    path: str = request.path_params["path"]
    base = upstreams.urls.get(service)
    if base is None:
        raise NotFound(
            f"No service called {service!r}. Known: {', '.join(sorted(upstreams.urls))}."
        )
    await _authorize(request, service, f"/{path}")
    try:
        target = domain.request_target(domain.upstream_path(request.scope, service, path))
    except ValueError as exc:
        raise BadRequest("The address contains characters that are not allowed.") from exc
    headers = domain.forwardable(request.headers)
    # The caller's address replaces whatever the client claimed (BK-2 limits attempts by it).
    headers.pop(domain.FORWARDED_FOR, None)
    client = domain.client_address(
        request.client.host if request.client else None,
        ",".join(request.headers.getlist(domain.FORWARDED_FOR)),
        request.app.state.trusted_proxy,
    )
    if client:
        headers[domain.FORWARDED_FOR] = client
    headers.update(current_trace_headers())
    body = await request.body()
    try:
        async with upstreams.session.request(
            request.method,
            URL(base + target, encoded=True),  # encoded as received: checked just above
            data=body or None,
            headers=headers,
            allow_redirects=False,
        ) as upstream:
            content = await upstream.read()
    except TimeoutError:
        # Rare: the service's own deadline is shorter. Whether it finished is unknown here.
        return error_response(
            ErrorBody(
                status=504,
                code="upstream_timeout",
                message=f"The {service} service did not answer in time. Retry with the same "
                "Idempotency-Key to be sure nothing happens twice.",
            )
        )
    except aiohttp.InvalidURL as exc:
        raise BadRequest("The address contains characters that are not allowed.") from exc
    except aiohttp.ClientError:
        return error_response(
            ErrorBody(
                status=503,
                code="service_unavailable",
                message=f"The {service} service is not reachable right now. Try again shortly.",
            )
        )
    response = Response(content=content, status_code=upstream.status)
    response.raw_headers.extend(domain.forwardable_raw(upstream.raw_headers))
    return response


def forward_route() -> Route:
    """The forwarding route, a plain Starlette one: FastAPI's parameter and dependency handling
    would cost more per request than the rest of the gateway's own work."""
    route = Route(FORWARD_PATH, forward, methods=FORWARD_METHODS, include_in_schema=False)
    assert route.methods is not None
    route.methods.discard("HEAD")  # Starlette adds HEAD to GET; it is not forwarded (405)
    return route


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
    """The services behind the gateway and one pooled HTTP client to reach them.

    aiohttp, not httpx: its pool takes an idle keep-alive connection in constant time, where
    httpx's scanned every open connection per request (65 % of the gateway's CPU under load).
    """

    def __init__(self, urls: dict[str, str], timeout: float) -> None:
        self.urls = urls
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        # Made on first use: an aiohttp session belongs to the event loop that runs it.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_SECONDS
                ),
                timeout=self.timeout,
                # A relay, not a browser: no cookies kept between callers, and no content type
                # made up for a body that came without one.
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("Content-Type",),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _get_json(self, url: str, seconds: float, *, ok_only: bool) -> Any:
        async with self.session.get(
            url, timeout=aiohttp.ClientTimeout(total=seconds), allow_redirects=False
        ) as response:
            if ok_only:
                response.raise_for_status()
            return await response.json(content_type=None)

    async def readiness(self) -> dict[str, dict[str, Any]]:
        async def one(name: str, base: str) -> tuple[str, dict[str, Any]]:
            try:
                body = await self._get_json(f"{base}/ready", 3.0, ok_only=False)
                return name, {"status": body.get("status", "unknown"), "checks": body.get("checks")}
            except (aiohttp.ClientError, TimeoutError, ValueError):
                return name, {"status": "unreachable", "checks": None}

        results = await asyncio.gather(*(one(n, u) for n, u in self.urls.items()))
        return dict(sorted(results))

    async def openapi_documents(self) -> dict[str, dict[str, Any] | None]:
        async def one(name: str, base: str) -> tuple[str, dict[str, Any] | None]:
            try:
                return name, await self._get_json(f"{base}/openapi.json", 5.0, ok_only=True)
            except (aiohttp.ClientError, TimeoutError, ValueError):
                return name, None

        return dict(await asyncio.gather(*(one(n, u) for n, u in self.urls.items())))
