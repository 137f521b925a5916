"""Bad input at any endpoint gives a clear 4xx, never a 500: every operation in the gateway's
merged OpenAPI is called with garbage, through the gateway, as anonymous and as staff."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from vaccinera_devstack.platform import Platform

pytestmark = pytest.mark.infra

PATH_VALUES = ["x", "00000000-0000-0000-0000-000000000000", "%00", "..%2F..", "å" * 300]
BODIES: list[dict[str, Any]] = [
    {"content": b"{not json", "headers": {"content-type": "application/json"}},
    {"json": []},
    {"json": {"unexpected": True}},
    {"json": {"identifier": None}},
    {"json": {"identifier": "x" * 10_000}},
    {"content": b"\xff\xfe", "headers": {"content-type": "application/json"}},
]


async def test_every_operation_answers_garbage_with_a_4xx(
    platform: Platform, nurse_headers: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=15) as client:
        merged = (await client.get("/openapi.json")).json()
        operations = [
            (path, method)
            for path, item in merged["paths"].items()
            for method in item
            if method in {"get", "post", "put", "patch", "delete"}
        ]
        assert len(operations) >= 3
        failures = []
        for (path, method), value in itertools.product(operations, PATH_VALUES):
            url = _fill(path, value)
            for auth, body in itertools.product(({}, nurse_headers), BODIES):
                headers = {**auth, **body.get("headers", {})}
                kwargs = {k: v for k, v in body.items() if k != "headers"}
                r = await client.request(method.upper(), url, headers=headers, **kwargs)
                if r.status_code >= 500 or (r.status_code >= 400 and "message" not in r.json()):
                    failures.append((method, url[:80], r.status_code, r.text[:200]))
        assert not failures, failures


def _fill(path: str, value: str) -> str:
    out = []
    for part in path.split("/"):
        out.append(value if part.startswith("{") else part)
    return "/".join(out)
