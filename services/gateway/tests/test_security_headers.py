"""The gateway's edge: security headers on every answer (errors and the 500 page too), HSTS only
over TLS, the request body limit (Content-Length and chunked), CORS closed unless configured,
and /docs under a policy of its own. The gateway app in process, one stand-in service on a
loopback port; one test runs the gateway under uvicorn to see the limit on a real connection."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import uvicorn
from aiohttp import web
from fastapi import FastAPI
from pydantic import ValidationError

from vaccinera_gateway.main import create_app
from vaccinera_gateway.settings import DEFAULT_CSP, Settings

LIMIT = 1000
SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": DEFAULT_CSP,
    "cache-control": "no-store",
}
HSTS = "max-age=31536000; includeSubDomains"
FRONTEND = "https://boka.vaccinera.example"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
async def service() -> AsyncIterator[tuple[str, list[int]]]:
    """A stand-in booking service (``/health`` is public at the gateway): it answers with its
    own cache and CORS headers, and records the size of every body it was handed."""
    bodies: list[int] = []

    async def health(request: web.Request) -> web.Response:
        bodies.append(len(await request.read()))
        return web.json_response(
            {"ok": True},
            status=201,
            headers={
                "Cache-Control": "public, max-age=600",
                "Access-Control-Allow-Origin": "*",
                "X-Frame-Options": "SAMEORIGIN",
            },
        )

    async def openapi(_: web.Request) -> web.Response:
        error = {"$ref": "#/components/schemas/ErrorBody"}
        return web.json_response(
            {
                "paths": {
                    "/health": {
                        "get": {"responses": {"200": {"description": "alive"}}},
                        "post": {
                            "requestBody": {"content": {"application/json": {"schema": {}}}},
                            "responses": {"422": {"content": {"application/json": error}}},
                        },
                    }
                },
                "components": {"schemas": {"ErrorBody": {"type": "object"}}},
            }
        )

    app = web.Application(client_max_size=100 * LIMIT)
    app.router.add_route("*", "/health", health)
    app.router.add_get("/openapi.json", openapi)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", bodies
    finally:
        await runner.cleanup()


GatewayFactory = Callable[..., FastAPI]


@pytest.fixture
async def make_gateway(service: tuple[str, list[int]]) -> AsyncIterator[GatewayFactory]:
    apps: list[FastAPI] = []

    def make(**settings: Any) -> FastAPI:
        app = create_app(
            Settings(
                service_urls={
                    "booking": service[0],
                    "journal": f"http://127.0.0.1:{_free_port()}",  # nobody listens there
                },
                upstream_timeout=2.0,
                max_body_bytes=LIMIT,
                **settings,
            )
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        await app.state.upstreams.close()


def _client(
    app: FastAPI, *, base_url: str = "http://gw", client: tuple[str, int] = ("127.0.0.1", 123)
) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=client)
    return httpx.AsyncClient(transport=transport, base_url=base_url)


def _assert_secured(response: httpx.Response) -> None:
    for name, value in SECURITY.items():
        assert response.headers.get_list(name) == [value], (name, response.status_code)
    assert "strict-transport-security" not in response.headers


async def test_every_answer_carries_the_security_headers(make_gateway: GatewayFactory) -> None:
    app = make_gateway()
    async with _client(app) as gw:
        relayed = await gw.get("/api/booking/health")
        assert relayed.status_code == 201
        # The service's own cache and framing headers and its CORS opening are not relayed.
        assert "access-control-allow-origin" not in relayed.headers
        answers = [
            relayed,
            await gw.get("/api/nosuch/health"),  # 404
            await gw.get("/api/booking/whoami"),  # 401, checked at the gateway
            await gw.delete("/health"),  # 405
            await gw.get("/api/journal/health"),  # 503, the service is not reachable
            await gw.get("/health"),  # the gateway's own
            await gw.get("/openapi.json"),
        ]
        assert [r.status_code for r in answers] == [201, 404, 401, 405, 503, 200, 200]
        for answer in answers:
            _assert_secured(answer)
            assert answer.headers.get("x-correlation-id")

        async def broken() -> None:
            raise RuntimeError("a bug")

        app.state.upstreams.readiness = broken
        crashed = await gw.get("/health")
        assert crashed.status_code == 500
        _assert_secured(crashed)


async def test_hsts_only_over_tls(make_gateway: GatewayFactory) -> None:
    https = {"X-Forwarded-Proto": "https"}
    untrusting = make_gateway()
    async with _client(untrusting) as gw:
        assert "strict-transport-security" not in (await gw.get("/health")).headers
        # Nobody is trusted by default: anyone can send the header.
        assert "strict-transport-security" not in (await gw.get("/health", headers=https)).headers
    async with _client(untrusting, base_url="https://gw") as gw:
        # TLS ending at the gateway's own server.
        assert (await gw.get("/health")).headers["strict-transport-security"] == HSTS

    behind_proxy = make_gateway(trusted_proxies=["10.1.0.0/16"])
    async with _client(behind_proxy, client=("10.1.2.3", 4567)) as proxy:
        r = await proxy.get("/api/booking/health", headers=https)
        assert r.headers.get_list("strict-transport-security") == [HSTS]
        assert "strict-transport-security" not in (await proxy.get("/health")).headers
        plain = {"X-Forwarded-Proto": "http"}
        assert (
            "strict-transport-security" not in (await proxy.get("/health", headers=plain)).headers
        )
        # The trusted proxy's own word comes last; what the client claimed before it is not it.
        chained = {"X-Forwarded-Proto": "https, http"}
        r = await proxy.get("/health", headers=chained)
        assert "strict-transport-security" not in r.headers
    async with _client(behind_proxy, client=("192.0.2.7", 4567)) as stranger:
        r = await stranger.get("/health", headers=https)
        assert "strict-transport-security" not in r.headers


async def test_an_oversized_body_is_a_413_before_it_is_read(
    make_gateway: GatewayFactory, service: tuple[str, list[int]]
) -> None:
    _, bodies = service
    async with _client(make_gateway()) as gw:
        r = await gw.post("/api/booking/health", content=b"x" * LIMIT)
        assert r.status_code == 201  # the limit itself is allowed
        assert bodies == [LIMIT]

        r = await gw.post("/api/booking/health", content=b"x" * (LIMIT + 1))
        assert r.status_code == 413
        body = r.json()
        assert body["status"] == 413
        assert body["code"] == "payload_too_large"
        assert str(LIMIT) in body["message"]
        assert body["details"] == []
        assert r.headers["connection"] == "close"
        _assert_secured(r)

        # Chunked: no Content-Length to judge by, so counted as it arrives; the gateway stops
        # reading at the limit (this client would go on for 10 MB).
        sent = 0

        async def endless() -> AsyncIterator[bytes]:
            nonlocal sent
            for _ in range(10_000):
                sent += 1
                yield b"y" * 100

        r = await gw.post("/api/booking/health", content=endless())
        assert r.status_code == 413
        assert r.json()["code"] == "payload_too_large"
        assert r.headers["connection"] == "close"
        _assert_secured(r)
        assert sent <= LIMIT // 100 + 2

        # Before the token is even looked at: a body too large is refused the same for all.
        r = await gw.post("/api/booking/bookings", content=b"x" * (LIMIT + 1))
        assert r.status_code == 413
    assert bodies == [LIMIT]  # nothing oversized reached the service


async def test_the_limit_on_a_real_connection(make_gateway: GatewayFactory) -> None:
    """Under uvicorn: a client announcing 10 MB gets the 413 at once, without sending a byte
    of it, and the connection is closed."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(make_gateway(), host="127.0.0.1", port=port, log_config=None)
    )
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(100):
            if server.started:
                break
            await asyncio.sleep(0.05)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /api/booking/health HTTP/1.1\r\nHost: gw\r\n"
            b"Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
        )
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=5)  # until the server closes
        writer.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413 "), head
        assert b"connection: close" in head.lower()
        assert b'"payload_too_large"' in body
    finally:
        server.should_exit = True
        await serving


async def test_cors_is_closed_by_default(make_gateway: GatewayFactory) -> None:
    async with _client(make_gateway()) as gw:
        r = await gw.get("/api/booking/health", headers={"Origin": FRONTEND})
        assert r.status_code == 201
        assert not [h for h in r.headers if h.startswith("access-control-")]
        preflight = await gw.options(
            "/api/booking/health",
            headers={"Origin": FRONTEND, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 405
        assert not [h for h in preflight.headers if h.startswith("access-control-")]


async def test_cors_for_a_configured_origin_only(make_gateway: GatewayFactory) -> None:
    async with _client(make_gateway(cors_origins=[FRONTEND + "/"])) as gw:
        preflight = await gw.options(
            "/api/booking/bookings",
            headers={
                "Origin": FRONTEND,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, idempotency-key",
            },
        )
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == FRONTEND
        assert "POST" in preflight.headers["access-control-allow-methods"]
        allowed_headers = preflight.headers["access-control-allow-headers"].lower()
        assert "authorization" in allowed_headers
        assert "idempotency-key" in allowed_headers
        assert "access-control-allow-credentials" not in preflight.headers
        assert preflight.headers["vary"] == "Origin"
        _assert_secured(preflight)

        r = await gw.get("/api/booking/health", headers={"Origin": FRONTEND})
        assert r.headers.get_list("access-control-allow-origin") == [FRONTEND]
        assert "x-correlation-id" in r.headers["access-control-expose-headers"].lower()
        _assert_secured(r)
        # An error is readable by that page too (here: a body too large).
        r = await gw.post(
            "/api/booking/health", content=b"x" * (LIMIT + 1), headers={"Origin": FRONTEND}
        )
        assert r.status_code == 413
        assert r.headers["access-control-allow-origin"] == FRONTEND

        other = "https://evil.example"
        r = await gw.get("/api/booking/health", headers={"Origin": other})
        assert "access-control-allow-origin" not in r.headers
        preflight = await gw.options(
            "/api/booking/health",
            headers={"Origin": other, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 405
        assert "access-control-allow-origin" not in preflight.headers

    async with _client(make_gateway(cors_origins=["*"])) as gw:
        r = await gw.get("/api/booking/health", headers={"Origin": "https://any.example"})
        assert r.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in r.headers

    credentialed = make_gateway(cors_origins=[FRONTEND], cors_allow_credentials=True)
    async with _client(credentialed) as gw:
        r = await gw.get("/api/booking/health", headers={"Origin": FRONTEND})
        assert r.headers["access-control-allow-credentials"] == "true"


def test_cors_settings_refuse_what_would_open_too_much() -> None:
    with pytest.raises(ValidationError, match="cannot be used with the origin"):
        Settings(cors_origins=["*"], cors_allow_credentials=True)
    for not_an_origin in ("boka.example.se", "https://boka.example.se/path", "ftp://x.se"):
        with pytest.raises(ValidationError, match="is not an origin"):
            Settings(cors_origins=[not_an_origin])
    with pytest.raises(ValidationError):
        Settings(trusted_proxies=["not-an-address"])
    with pytest.raises(ValidationError, match="header value"):
        Settings(content_security_policy="default-src 'self'\r\nX-Evil: 1")


async def test_docs_has_a_policy_of_its_own(make_gateway: GatewayFactory) -> None:
    async with _client(make_gateway()) as gw:
        r = await gw.get("/docs")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        for name in ("x-content-type-options", "x-frame-options", "referrer-policy"):
            assert r.headers[name] == SECURITY[name]
        assert r.headers["cache-control"] == "no-store"
        [policy] = r.headers.get_list("content-security-policy")
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["default-src"] == "'none'"
        assert directives["frame-ancestors"] == "'none'"
        assert directives["connect-src"] == "'self'"
        page = r.text
        # Swagger UI from the CDN, checked by hash; its one inline script allowed by its hash.
        assert 'src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.35.0/swagger-ui-bundle.js"' in (
            page
        )
        assert page.count('integrity="sha384-') == 2
        [start] = re.findall(r"<script>(.*?)</script>", page, re.S)
        digest = base64.b64encode(hashlib.sha256(start.encode()).digest()).decode()
        assert directives["script-src"] == f"https://cdn.jsdelivr.net 'sha256-{digest}'"
        assert "unsafe-eval" not in policy
        assert "'unsafe-inline'" not in directives["script-src"]
        for gone in ("/redoc", "/docs/oauth2-redirect"):
            assert (await gw.get(gone)).status_code == 404
    self_hosted = make_gateway(docs_assets_url="/static/swagger-ui/")
    async with _client(self_hosted) as gw:
        r = await gw.get("/docs")
        assert 'href="/static/swagger-ui/swagger-ui.css"' in r.text
        assert "script-src 'self' 'sha256-" in r.headers["content-security-policy"]


async def test_the_merged_openapi_documents_the_413(make_gateway: GatewayFactory) -> None:
    async with _client(make_gateway()) as gw:
        document = (await gw.get("/openapi.json")).json()
    operation = document["paths"]["/api/booking/health"]["post"]
    assert operation["responses"]["413"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/booking__ErrorBody"
    }
    assert "413" not in document["paths"]["/api/booking/health"]["get"]["responses"]
