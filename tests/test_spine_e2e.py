"""The event spine end to end: gateway -> identity (state + event via the outbox) -> Kafka ->
booking (consumes, records its effect), one trace across all of them; every service ready."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from vaccinera_contracts.topics import IDENTITY
from vaccinera_devstack.platform import SERVICE_MODULES, Platform
from vaccinera_devstack.testing import eventually, read_topic

pytestmark = pytest.mark.infra


def spans(platform: Platform, service: str) -> list[dict[str, Any]]:
    assert platform.spans_dir is not None
    path = platform.spans_dir / f"{service}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_http_request_event_and_consumer_share_one_trace(
    platform: Platform, nurse_headers: dict[str, str]
) -> None:
    correlation_id = f"spine-{uuid.uuid4()}"
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=10) as client:
        created = await client.post(
            "/api/identity/patients",
            json={
                "identifier": "19121212-1212",
                "given_name": "Tolvan",
                "family_name": "Tolvansson",
            },
            headers={**nurse_headers, "X-Correlation-ID": correlation_id},
        )
        assert created.status_code in (200, 201), created.text
        patient_id = created.json()["patient_id"]
        assert created.json()["identifier"] == "191212121212"

        async def booking_knows_patient() -> bool:
            r = await client.get(
                f"/api/booking/patients/{patient_id}/self-booking", headers=nurse_headers
            )
            return r.status_code == 200

        await eventually(booking_knows_patient, timeout=30)
        verdict = (
            await client.get(
                f"/api/booking/patients/{patient_id}/self-booking", headers=nurse_headers
            )
        ).json()
        assert verdict["self_booking_allowed"] is True
        assert verdict["identifier_kind"] == "personnummer"

    # The event on Kafka: our envelope, keyed by the patient, no name in it.
    records = await read_topic(
        platform.infra.kafka_bootstrap,
        IDENTITY,
        until=lambda rs: any(patient_id.encode() == r.key for r in rs),
    )
    (record,) = [r for r in records if r.key == patient_id.encode()]
    envelope = json.loads(record.value)
    assert envelope["type"] == "identity.PatientRegistered"
    assert envelope["producer"] == "identity"
    assert envelope["correlation_id"] == correlation_id
    # The record's correlation_id header is the envelope's, not one Kafka's client made up.
    assert dict(record.headers)["correlation_id"] == correlation_id
    assert "Tolvan" not in record.value.decode()

    # One trace: the gateway's request, identity's request, the publish and booking's handling.
    def trace_of(service: str, predicate: Any) -> set[str]:
        return {s["context"]["trace_id"] for s in spans(platform, service) if predicate(s)}

    identity_traces = trace_of("identity", lambda s: s["name"] == "POST /patients")
    consumer_traces = trace_of(
        "booking", lambda s: s["name"] == f"{IDENTITY} process identity.PatientRegistered"
    )

    async def consumer_span_written() -> bool:
        return bool(
            trace_of(
                "booking",
                lambda s: s["name"] == f"{IDENTITY} process identity.PatientRegistered",
            )
            & trace_of("identity", lambda s: s["name"] == "POST /patients")
        )

    await eventually(consumer_span_written, timeout=10)
    identity_traces = trace_of("identity", lambda s: s["name"] == "POST /patients")
    consumer_traces = trace_of(
        "booking", lambda s: s["name"] == f"{IDENTITY} process identity.PatientRegistered"
    )
    shared = identity_traces & consumer_traces
    gateway_traces = trace_of("gateway", lambda s: s["name"] == "POST /api/{service}/{path:path}")
    assert shared & gateway_traces, "gateway, identity and booking spans share one trace id"

    # No personnummer in any service's log, although it crossed the gateway and identity.
    for log in (platform.base_dir / "logs").glob("*.log"):
        text = log.read_text()
        assert "191212121212" not in text, log.name
        assert "19121212-1212" not in text, log.name


async def test_metrics_count_requests_by_route_template(
    platform: Platform, nurse_headers: dict[str, str]
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        await client.get(f"{platform.url('identity')}/patients/nobody", headers=nurse_headers)
        text = (await client.get(f"{platform.url('identity')}/metrics")).text
    assert 'route="/patients/{patient_id}"' in text
    assert "nobody" not in text
    assert "vaccinera_events_published_total" in text


async def test_gateway_health_lists_every_service_ready(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=10) as client:
        health = (await client.get("/health")).json()
    assert health["status"] == "ok"
    assert set(health["services"]) == set(SERVICE_MODULES)
    for name, state in health["services"].items():
        assert state["status"] == "ready", name
        assert state["checks"] == {"database": "ok", "broker": "ok"}


async def test_every_service_serves_openapi_and_asyncapi(platform: Platform) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        merged = (await client.get(f"{platform.gateway_url}/openapi.json")).json()
        assert "/api/identity/patients" in merged["paths"]
        assert "/api/booking/patients/{patient_id}/self-booking" in merged["paths"]
        assert "HTTPBearer" in merged["components"]["securitySchemes"]
        docs = await client.get(f"{platform.gateway_url}/docs")
        assert docs.status_code == 200
        for name in SERVICE_MODULES:
            asyncapi = await client.get(f"{platform.url(name)}/asyncapi.json")
            assert asyncapi.status_code == 200, name
            assert asyncapi.json()["info"]["title"].startswith("Vaccinera")
            # The "try it out" publisher would let anyone write to Kafka: it must not exist.
            tried = await client.post(f"{platform.url(name)}/asyncapi/try", json={})
            assert tried.status_code in (404, 405), name
        identity_doc = (await client.get(f"{platform.url('identity')}/asyncapi.json")).text
        booking_doc = (await client.get(f"{platform.url('booking')}/asyncapi.json")).text
        assert "identity.PatientRegistered" in identity_doc
        assert IDENTITY in booking_doc


async def test_gateway_refuses_bad_tokens_and_unknown_services(platform: Platform) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=10) as client:
        r = await client.get(
            "/api/identity/patients/x", headers={"authorization": "Bearer forged.token.here"}
        )
        assert (r.status_code, r.json()["code"]) == (401, "token_invalid")
        r = await client.get("/api/identity/patients/x")
        assert (r.status_code, r.json()["code"]) == (401, "token_missing")
        r = await client.get("/api/nosuch/thing")
        assert r.status_code == 404
        assert "identity" in r.json()["message"]


async def test_invalid_identifier_is_a_422_naming_the_rule(
    platform: Platform, nurse_headers: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=10) as client:
        r = await client.post(
            "/api/identity/patients", json={"identifier": "19121212-1213"}, headers=nurse_headers
        )
    assert r.status_code == 422
    (detail,) = r.json()["details"]
    assert (detail["field"], detail["rule"]) == ("identifier", "checksum")
    assert "19121212" not in r.text
