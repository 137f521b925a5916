"""The gateway relays to a service as it was asked and answers for it when it cannot: the
gateway app in process, the services stand-ins on loopback ports (no Kafka, no database)."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from fastapi import FastAPI

from vaccinera_gateway import edge
from vaccinera_gateway.domain import forwardable_raw, request_target
from vaccinera_gateway.main import create_app
from vaccinera_gateway.settings import Settings

TIMEOUT = 0.5


async def _service_health(request: web.Request) -> web.StreamResponse:
    """``/health`` is public at the gateway, so one handler plays every answer, by ``mode``."""
    mode = request.query.get("mode", "echo")
    if mode == "slow":
        await asyncio.sleep(TIMEOUT * 4)
        return web.Response(text="too late")
    if mode == "redirect":
        return web.Response(status=302, headers={"Location": "/elsewhere"})
    if mode == "gzip":
        return web.Response(
            body=gzip.compress(b'{"zipped": true}'),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
    response = web.json_response(
        {
            "method": request.method,
            "target": request.raw_path,
            "headers": {k.lower(): v for k, v in request.headers.items()},
            "body": (await request.read()).decode(),
        },
        status=201,
    )
    response.headers.add("Set-Cookie", "a=1")
    response.headers.add("Set-Cookie", "b=2")
    response.headers["X-Upstream"] = "yes"
    return response


async def _service_ready(_: web.Request) -> web.Response:
    return web.json_response({"status": "ready", "checks": {"database": True}})


async def _service_openapi(_: web.Request) -> web.Response:
    return web.json_response(
        {"info": {"description": "stand-in"}, "paths": {"/health": {"get": {}}}}
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
async def gateway() -> AsyncIterator[FastAPI]:
    service = web.Application()
    service.router.add_route("*", "/health", _service_health)
    service.router.add_get("/ready", _service_ready)
    service.router.add_get("/openapi.json", _service_openapi)
    runner = web.AppRunner(service, shutdown_timeout=0.1)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    settings = Settings(
        service_urls={
            "booking": f"http://127.0.0.1:{port}",
            "journal": f"http://127.0.0.1:{_free_port()}",  # nobody listens there
        },
        upstream_timeout=TIMEOUT,
    )
    app = create_app(settings)
    try:
        yield app
    finally:
        await app.state.upstreams.close()
        await runner.cleanup()


@pytest.fixture
async def gw(gateway: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        yield client


async def test_request_and_answer_cross_as_they_are(gw: httpx.AsyncClient) -> None:
    r = await gw.post(
        "/api/booking/health?mode=echo&q=a%20b%2F",
        content=b"hello",
        headers={"X-Custom": "1", "Proxy-Authorization": "secret", "Cookie": "mine=1"},
    )
    assert r.status_code == 201
    seen = r.json()
    assert seen["method"] == "POST"
    assert seen["target"] == "/health?mode=echo&q=a%20b%2F"  # still encoded as received
    assert seen["body"] == "hello"
    assert seen["headers"]["x-custom"] == "1"
    assert seen["headers"]["cookie"] == "mine=1"
    assert "content-type" not in seen["headers"]  # none given, none made up
    assert "proxy-authorization" not in seen["headers"]  # hop by hop
    assert r.headers["x-upstream"] == "yes"
    assert r.headers.get_list("set-cookie") == ["a=1", "b=2"]
    # The gateway keeps no cookie jar: what one caller was given is not sent for the next.
    gw.cookies.clear()  # nor does this caller
    again = await gw.get("/api/booking/health")
    assert "cookie" not in again.json()["headers"]
    assert again.json()["body"] == ""


async def test_redirects_and_encodings_are_the_callers_business(gw: httpx.AsyncClient) -> None:
    r = await gw.get("/api/booking/health?mode=redirect")
    assert r.status_code == 302
    assert r.headers["location"] == "/elsewhere"
    r = await gw.get("/api/booking/health?mode=gzip")
    assert r.json() == {"zipped": True}
    assert "content-encoding" not in r.headers  # handed over decoded


async def test_a_service_too_slow_is_a_504(gw: httpx.AsyncClient) -> None:
    r = await gw.get("/api/booking/health?mode=slow")
    assert r.status_code == 504
    assert r.json()["code"] == "upstream_timeout"


async def test_a_service_not_reachable_is_a_503(gw: httpx.AsyncClient) -> None:
    r = await gw.get("/api/journal/health")
    assert r.status_code == 503
    assert r.json()["code"] == "service_unavailable"


async def test_what_is_not_forwarded(gw: httpx.AsyncClient) -> None:
    assert (await gw.get("/api/nosuch/health")).status_code == 404
    assert (await gw.get("/api/booking/no/such/operation")).status_code == 404
    r = await gw.get("/api/booking/whoami")  # checked here first: no token, no hop (AC-3)
    assert r.status_code == 401
    assert r.json()["code"] == "token_missing"
    assert (await gw.head("/api/booking/health")).status_code == 405


async def test_services_are_told_the_callers_address_never_what_the_client_claims(
    gateway: FastAPI, gw: httpx.AsyncClient
) -> None:
    """X-Forwarded-For names the caller for the services (BK-2 limits attempts by it): the
    connection's peer, or what trusted proxies in front of the gateway saw."""
    claimed = {"X-Forwarded-For": "198.51.100.66"}
    r = await gw.get("/api/booking/health", headers=claimed)
    assert r.json()["headers"]["x-forwarded-for"] == "127.0.0.1"  # nobody trusted: the peer

    gateway.state.trusted_proxy = edge.proxy_check(["127.0.0.1/32", "10.0.0.0/8"])
    r = await gw.get("/api/booking/health", headers=claimed)
    assert r.json()["headers"]["x-forwarded-for"] == "198.51.100.66"  # a trusted proxy's word
    # The client's own claim comes first; the trusted proxies' additions are read from the
    # right, and the first address that is not one of theirs is the caller.
    chained = {"X-Forwarded-For": "203.0.113.1, 198.51.100.66, 10.1.2.3"}
    r = await gw.get("/api/booking/health", headers=chained)
    assert r.json()["headers"]["x-forwarded-for"] == "198.51.100.66"
    r = await gw.get("/api/booking/health")
    assert r.json()["headers"]["x-forwarded-for"] == "127.0.0.1"


async def _raw_call(app: FastAPI, raw_path: bytes, query: bytes) -> tuple[int, bytes]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": raw_path.decode("latin-1"),
        "raw_path": raw_path,
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"gw")],
        "client": ("127.0.0.1", 1),
        "server": ("gw", 80),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


async def test_a_control_character_in_the_address_is_a_400(gateway: FastAPI) -> None:
    status, body = await _raw_call(gateway, b"/api/booking/health", b"mode=echo&q=\x01")
    assert status == 400, body


async def test_readiness_and_openapi_still_ask_every_service(gw: httpx.AsyncClient) -> None:
    r = await gw.get("/ready")
    assert r.status_code == 503
    services = r.json()["services"]
    assert services["booking"] == {"status": "ready", "checks": {"database": True}}
    assert services["journal"]["status"] == "unreachable"
    document = (await gw.get("/openapi.json")).json()
    assert "/api/booking/health" in document["paths"]
    assert "journal" in document["info"]["description"]


def test_request_target_keeps_escapes_and_encodes_the_rest() -> None:
    assert request_target("/patients/%00x?a=1&b=%20") == "/patients/%00x?a=1&b=%20"
    assert request_target("/a b/%zz/\xe5") == "/a%20b/%25zz/%E5"
    assert request_target("/x#y") == "/x%23y"
    with pytest.raises(ValueError, match="control"):
        request_target("/x\r\nHost: evil")


def test_answer_headers_keep_repeats_and_drop_hop_by_hop() -> None:
    raw = [
        (b"Set-Cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
        (b"Content-Length", b"9"),
        (b"Transfer-Encoding", b"chunked"),
        (b"X-Thing", b"y"),
    ]
    assert forwardable_raw(raw) == [
        (b"set-cookie", b"a=1"),
        (b"set-cookie", b"b=2"),
        (b"x-thing", b"y"),
    ]
