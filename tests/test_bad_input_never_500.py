"""Bad input at any endpoint gives a clear 4xx, never a 500 and never a 2xx: every operation in
the gateway's merged OpenAPI is called with garbage, through the gateway, anonymously and as a
principal the authorization matrix lets call it (so routes open only to, say, time_book_admin
see the garbage bodies too, not just a 403). A 422 names each field it refuses
(``details[].field``). Each answer is one the operation's OpenAPI entry documents, with the
error body it documents (issue 8: a generated client must not meet undocumented answers)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import httpx
import pytest

from tests.conftest import citizen_headers, staff_headers
from vaccinera_contracts.access import Operation, find_operation
from vaccinera_contracts.roles import Role
from vaccinera_devstack.platform import Platform

pytestmark = pytest.mark.infra

PATH_VALUES = ["x", "00000000-0000-0000-0000-000000000000", "%00", "..%2F..", "å" * 300]
# Path values that reach the operation itself (the others may not even match its path, and
# are answered by the gateway before any operation is chosen).
REACHING = set(PATH_VALUES[:2])
ERROR_BODY = {"status", "code", "message", "details"}
BODIES: list[dict[str, Any]] = [
    {"content": b"{not json", "headers": {"content-type": "application/json"}},
    {"json": []},
    {"json": {"unexpected": True}},
    {"json": {"identifier": None}},
    {"json": {"identifier": "x" * 10_000}},
    {"content": b"\xff\xfe", "headers": {"content-type": "application/json"}},
]
CITIZEN = "196408233234"


def allowed_caller(platform: Platform, op: Operation) -> tuple[str, dict[str, str]]:
    """A principal the matrix lets call ``op``: no login, a staff role of it, or a citizen."""
    if op.anonymous:
        return "anonymous", {}
    if op.staff:
        role = min(op.staff, key=lambda r: list(Role).index(r))
        return role.value, staff_headers(platform, role)
    return "citizen", citizen_headers(platform, CITIZEN)


async def test_every_operation_answers_garbage_with_a_4xx(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        merged = (await client.get("/openapi.json")).json()
        operations = [
            (path, method)
            for path, item in merged["paths"].items()
            for method in item
            if method in {"get", "post", "put", "patch", "delete"}
        ]
        assert len(operations) >= 3
        failures: list[tuple[Any, ...]] = []
        undocumented: set[tuple[str, str, int]] = set()
        sem = asyncio.Semaphore(8)

        async def probe(
            path: str, method: str, value: str, who: str, auth: dict[str, str], body: Any
        ) -> None:
            entry = merged["paths"][path][method]
            url = _fill(path, value)
            headers = {**auth, **body.get("headers", {})}
            kwargs = {k: v for k, v in body.items() if k != "headers"}
            async with sem:
                r = await client.request(method.upper(), url, headers=headers, **kwargs)
            where = (method, url[:80], who, str(kwargs)[:40])
            if r.status_code >= 500:
                failures.append((*where, r.status_code, r.text[:200]))
                return
            if value in REACHING and str(r.status_code) not in entry["responses"]:
                undocumented.add((method, path, r.status_code))
            if r.status_code < 400:
                # Garbage taken as an order: only harmless when there is no body to judge.
                if "requestBody" in entry:
                    failures.append((*where, r.status_code, "garbage accepted"))
                return
            answer = r.json()
            if not set(answer) >= ERROR_BODY or not answer["message"]:
                failures.append((*where, r.status_code, "not ErrorBody"))
            elif r.status_code == 422 and (
                not answer["details"] or not all(d.get("field") for d in answer["details"])
            ):
                failures.append((*where, r.status_code, "422 naming no field", r.text[:200]))

        probes = []
        for path, method in operations:
            service, _, rest = path.removeprefix("/api/").partition("/")
            op = find_operation(service, method, "/" + rest.replace("{", "").replace("}", ""))
            callers = [("anonymous", {})]
            if op is not None:  # else a public path: /health, /ready
                callers.append(allowed_caller(platform, op))
            for value, (who, auth), body in itertools.product(PATH_VALUES, callers, BODIES):
                probes.append(probe(path, method, value, who, auth, body))
        await asyncio.gather(*probes)
        assert not failures, "\n".join(map(str, failures))
        assert not undocumented, sorted(undocumented)


def _fill(path: str, value: str) -> str:
    out = []
    for part in path.split("/"):
        out.append(value if part.startswith("{") else part)
    return "/".join(out)
