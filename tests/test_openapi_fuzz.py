"""Property-based fuzzing of every operation in the gateway's merged OpenAPI (issue 9), with
schemathesis: data that fits the documented schemas and data that does not, sent through the
gateway as a principal the authorization matrix lets call the operation (so the route's own
code runs, not just the gateway's 403). Each answer must be no 5xx, a documented status code
with the documented content type, and a body matching the documented schema; data that breaks
the schema must not be accepted (a 4xx). A bounded
number of examples per operation keeps the whole run to a minute or two."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import citizen_headers, staff_headers
from vaccinera_contracts.access import Operation, find_operation
from vaccinera_contracts.roles import Role
from vaccinera_devstack.platform import Platform

pytestmark = pytest.mark.infra

# Per operation and generation mode; ~60 operations, so a few hundred requests in all.
MAX_EXAMPLES = 8
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
CITIZEN = "196408233234"
CALLS: list[str] = []


def caller(platform: Platform, op: Operation | None) -> dict[str, str]:
    """Headers of a principal the matrix lets call ``op`` (none for public or anonymous)."""
    if op is None or op.anonymous:
        return {}
    if op.staff:
        return staff_headers(platform, min(op.staff, key=list(Role).index))
    return citizen_headers(platform, CITIZEN)


def test_every_operation_fuzzed_answers_as_documented(platform: Platform) -> None:
    document = httpx.get(f"{platform.gateway_url}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=platform.gateway_url, request_timeout=30)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        service, _, rest = operation.path.removeprefix("/api/").partition("/")
        op = find_operation(service, operation.method, "/" + rest.replace("{", "").replace("}", ""))
        # Each operation from an address of its own, as the trusted proxy names it, so calls
        # by code here use up no other test's per-client attempts (BK-2).
        headers = {**caller(platform, op), "X-Forwarded-For": f"203.0.113.{operations % 250 + 1}"}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, headers)
            except Unsatisfiable:
                # Nothing to break: no parameter or body can be made invalid (e.g. /health).
                assert mode is GenerationMode.NEGATIVE, operation.label
            except Exception as exc:  # every operation is fuzzed; all failures reported at the end
                failures.append(f"{operation.label} ({mode.value}):\n{exc}"[:1500])
    assert operations >= 40
    assert len(CALLS) >= operations * MAX_EXAMPLES // 2, "the checks hardly ran"
    assert not failures, "\n\n".join(failures)


def _fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        CALLS.append(case.operation.label)
        case.call_and_validate(headers=headers, checks=CHECKS)

    fuzz()
