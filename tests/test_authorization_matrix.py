"""AC-1..AC-5: every operation of the authorization matrix is called with every role, as a
citizen and anonymously, through the gateway and directly at the service; allowed and denied
come out exactly as ``vaccinera_contracts.access.MATRIX`` says."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import citizen_headers, staff_headers
from vaccinera_contracts.access import MATRIX, Operation
from vaccinera_contracts.roles import Role
from vaccinera_devstack.platform import Platform
from vaccinera_devstack.testing import eventually

pytestmark = pytest.mark.infra

CITIZEN_PNR = "196408233234"


def _body(op: Operation, identifier: str) -> dict[str, Any] | None:
    """A well-formed body, so an allowed call is judged on its rights, not its input."""
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    return {
        "identity.lookup_person": {"identifier": identifier},
        "identity.register_patient": {"identifier": identifier},
        "identity.register_reserve_patient": {"given_name": "Okänd", "family_name": "Patient"},
        "identity.search_patient": {"identifier": identifier},
        "identity.change_identifier": {"identifier": identifier},  # unchanged: 409
        "identity.set_contact": {"mobile": "070-111 22 33"},
        "identity.set_protection": {"protected": False},
        "identity.set_block": {"scope": "unit", "target_id": f"unit-{uuid.uuid4()}"},
        "identity.record_consent": {"care_provider_id": "provider-x", "expires_at": expires},
    }.get(op.name)


def _path(op: Operation, patient_id: str) -> str:
    """Real ids where rights depend on them (the patient, the staff's own unit), made-up ones
    elsewhere: an allowed call may then answer 404 or 422, but never 401 or 403."""
    path = op.path.replace("{patient_id}", patient_id).replace("{unit_id}", "unit-centrum")
    path = path.replace("{day}", "2030-01-07")
    for name in ("block_id", "consent_id", "time_book_id", "visit_type_id", "booking_id"):
        path = path.replace("{" + name + "}", str(uuid.uuid4()))
    return path


@pytest.fixture(scope="module")
async def citizen_patient(platform: Platform) -> str:
    """The citizen's own patient record, known to every service."""
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=10) as client:
        r = await client.post(
            "/api/identity/patients",
            json={"identifier": CITIZEN_PNR, "given_name": "Sven", "family_name": "Svensson"},
            headers=staff_headers(platform, Role.NURSE),
        )
        assert r.status_code in (200, 201), r.text
        patient_id: str = r.json()["patient_id"]

        async def booking_knows() -> bool:
            r = await client.get(
                f"/api/booking/patients/{patient_id}/self-booking",
                headers=staff_headers(platform, Role.NURSE),
            )
            return r.status_code == 200

        await eventually(booking_knows)
    return patient_id


PRINCIPALS: list[str] = ["anonymous", "citizen", *(r.value for r in Role)]


@pytest.mark.parametrize("via", ["gateway", "service"])
async def test_ac3_matrix_every_operation_every_role(
    platform: Platform, citizen_patient: str, via: str
) -> None:
    mismatches = []
    async with httpx.AsyncClient(timeout=15) as client:
        for op in MATRIX:
            base = (
                f"{platform.gateway_url}/api/{op.service}"
                if via == "gateway"
                else platform.url(op.service)
            )
            for who in PRINCIPALS:
                if who == "anonymous":
                    headers: dict[str, str] = {}
                    expected_allowed = op.anonymous
                elif who == "citizen":
                    headers = citizen_headers(platform, CITIZEN_PNR)
                    expected_allowed = op.citizen or op.anonymous
                else:
                    headers = staff_headers(platform, Role(who))
                    expected_allowed = Role(who) in op.staff or op.anonymous
                r = await client.request(
                    op.method,
                    base + _path(op, citizen_patient),
                    json=_body(op, CITIZEN_PNR),
                    headers=headers,
                )
                denied = r.status_code in (401, 403)
                if denied == expected_allowed:
                    mismatches.append((op.name, who, r.status_code, r.text[:160]))
                elif denied:
                    # Denials say why, in words: 401 for no login, 403 for the wrong role.
                    assert r.status_code == (401 if who == "anonymous" else 403), (op.name, who)
                    assert r.json()["message"]
    assert not mismatches, mismatches


async def test_ac5_citizen_sees_only_own_data(platform: Platform, citizen_patient: str) -> None:
    other = "198112189876"
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=10) as client:
        r = await client.post(
            "/api/identity/patients",
            json={"identifier": other, "given_name": "Lena", "family_name": "Karlsson"},
            headers=staff_headers(platform, Role.NURSE),
        )
        other_id = r.json()["patient_id"]
        mine = citizen_headers(platform, CITIZEN_PNR)
        assert (
            await client.get(f"/api/identity/patients/{citizen_patient}", headers=mine)
        ).status_code == 200
        for path in (
            f"/api/identity/patients/{other_id}",
            f"/api/identity/patients/{other_id}/consents",
            f"/api/identity/patients/{other_id}/access-log",
        ):
            r = await client.get(path, headers=mine)
            assert r.status_code == 403, path
            assert r.json()["code"] == "not_your_data"
        r = await client.put(
            f"/api/identity/patients/{other_id}/contact",
            json={"mobile": "0701112233"},
            headers=mine,
        )
        assert r.status_code == 403
        me = await client.get("/api/identity/me", headers=mine)
        assert me.json()["patient_id"] == citizen_patient


async def test_ac2_assignment_switch_per_request_without_new_login(platform: Platform) -> None:
    from vaccinera_contracts.roles import Assignment
    from vaccinera_devstack import tokens

    nurse_here = Assignment(id="a1", role=Role.NURSE, unit_id="unit-centrum", care_provider_id="p")
    stock_there = Assignment(
        id="a2", role=Role.STOCK_ADMIN, unit_id="unit-motala", care_provider_id="p"
    )
    token = tokens.mint(
        platform.keys, tokens.staff_claims("SE2321000016-9999", [nurse_here, stock_there])
    )
    auth = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=10) as client:
        body = {"identifier": CITIZEN_PNR}
        as_nurse = await client.post(
            "/api/identity/patients/search",
            json=body,
            headers={**auth, "X-Vaccinera-Assignment": "a1"},
        )
        assert as_nurse.status_code == 200
        as_stock = await client.put(
            f"/api/identity/patients/{as_nurse.json()['patient_id']}/protection",
            json={"protected": False},
            headers={**auth, "X-Vaccinera-Assignment": "a2"},
        )
        assert as_stock.status_code == 403
        assert "Lageradministratör" in as_stock.json()["message"]
        unnamed = await client.post("/api/identity/patients/search", json=body, headers=auth)
        assert (unnamed.status_code, unnamed.json()["code"]) == (400, "assignment_required")
