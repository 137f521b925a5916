"""Identity and access over the real platform: protected identity (ID-3), identifier change
(ID-4), blocks (ID-5), consent expiry (ID-6), access log (ID-7), contact details (ID-8),
population register (ID-2), and no personal data in any log."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from tests.booking_support import book_for, local, make_time_book
from tests.conftest import citizen_headers, staff_headers
from vaccinera_contracts.roles import Role
from vaccinera_contracts.topics import IDENTITY
from vaccinera_devstack.platform import Platform
from vaccinera_devstack.testing import dump_databases, eventually, read_everything, read_topic
from vaccinera_identity.population import SyntheticRegister
from vaccinera_kit.database import Database
from vaccinera_notifications.tables import messages

pytestmark = pytest.mark.infra
REGISTER = SyntheticRegister()


def _mobile() -> tuple[str, str]:
    """A fresh Swedish mobile number: as typed, and in E.164."""
    digits = f"{random.randrange(10**7):07d}"
    return f"070-{digits[:3]} {digits[3:5]} {digits[5:]}", f"+4670{digits}"


def _not_in_register(birth_date: date) -> str:
    """A valid personnummer of that birth date that the register does not hold."""
    for serial in range(999, 0, -1):
        stem = f"{birth_date:%y%m%d}{serial:03d}"
        check = (10 - sum(_luhn_digit(int(c), i) for i, c in enumerate(stem)) % 10) % 10
        candidate = f"{birth_date.year // 100}{stem}{check}"
        if REGISTER.lookup_sync(candidate) is None:
            return candidate
    raise AssertionError("the register holds every birth number of that date")


def _luhn_digit(digit: int, index: int) -> int:
    doubled = digit * (2 - index % 2)
    return doubled - 9 if doubled > 9 else doubled


def _logs(platform: Platform) -> str:
    """Every log line of the services and of the infrastructure (PostgreSQL, Kafka)."""
    folders = {platform.base_dir / "logs", platform.infra.base_dir / "logs"}
    return "\n".join(
        p.read_text(errors="replace") for folder in folders for p in folder.glob("*.log")
    )


@pytest.fixture
async def gw(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=15) as client:
        yield client


async def test_id2_lookup_gives_register_data_and_unknown_persons_can_be_added(
    platform: Platform, gw: httpx.AsyncClient
) -> None:
    nurse = staff_headers(platform, Role.NURSE)
    (person,) = REGISTER.sample(1, seed=11, protected=False)
    r = await gw.post(
        "/api/identity/persons/lookup", json={"identifier": person.identifier}, headers=nurse
    )
    assert r.status_code == 200, r.text
    found = r.json()
    assert (found["given_name"], found["family_name"]) == (person.given_name, person.family_name)
    assert found["municipality"] == person.municipality
    assert found["in_register"] is True and found["protected"] is False

    # Added from the register: the names come from there, not from the request.
    r = await gw.post(
        "/api/identity/patients", json={"identifier": person.identifier}, headers=nurse
    )
    assert r.status_code in (200, 201)
    assert r.json()["family_name"] == person.family_name

    unknown = _not_in_register(person.birth_date)
    r = await gw.post("/api/identity/persons/lookup", json={"identifier": unknown}, headers=nurse)
    assert (r.status_code, r.json()["code"]) == (404, "unknown_person")
    r = await gw.post("/api/identity/patients", json={"identifier": unknown}, headers=nurse)
    assert r.status_code == 422
    assert {d["field"] for d in r.json()["details"]} == {"given_name", "family_name"}
    r = await gw.post(
        "/api/identity/patients",
        json={"identifier": unknown, "given_name": "Ny", "family_name": "Invånare"},
        headers=nurse,
    )
    assert r.status_code == 201


async def test_id3_protected_person_leaves_no_contact_data_anywhere(
    platform: Platform, gw: httpx.AsyncClient
) -> None:
    nurse = staff_headers(platform, Role.NURSE)
    booking_only = staff_headers(platform, Role.BOOKING_ONLY)
    (person,) = REGISTER.sample(1, seed=31, protected=True)
    typed_mobile, e164 = _mobile()
    street = f"Hemliga gränd {uuid.uuid4().hex[:8]}"
    email = f"skyddad.{uuid.uuid4().hex[:8]}@example.se"

    lookup = (
        await gw.post(
            "/api/identity/persons/lookup", json={"identifier": person.identifier}, headers=nurse
        )
    ).json()
    assert lookup["protected"] is True
    assert lookup["given_name"] is None and lookup["address"] is None  # the register gives none

    r = await gw.post(
        "/api/identity/patients", json={"identifier": person.identifier}, headers=nurse
    )
    assert r.status_code == 422  # the name must be typed by hand
    r = await gw.post(
        "/api/identity/patients",
        json={"identifier": person.identifier, "given_name": "Kim", "family_name": "Hemlig"},
        headers=nurse,
    )
    assert r.status_code in (200, 201), r.text
    patient_id = r.json()["patient_id"]
    assert r.json()["protected"] is True

    for headers in (nurse, booking_only):
        r = await gw.put(
            f"/api/identity/patients/{patient_id}/contact",
            json={
                "mobile": typed_mobile,
                "email": email,
                "address": {"street": street, "postal_code": "582 22", "city": "Linköping"},
            },
            headers=headers,
        )
        assert r.status_code == 422
        assert r.json()["code"] == "protected_identity"
        assert {d["field"] for d in r.json()["details"]} == {"mobile", "email", "address"}
        assert e164 not in r.text

    # Booking refuses online booking for the person (and says whom to call).
    async def booking_knows() -> bool:
        r = await gw.get(f"/api/booking/patients/{patient_id}/self-booking", headers=nurse)
        return r.status_code == 200

    await eventually(booking_knows)
    verdict = (
        await gw.get(f"/api/booking/patients/{patient_id}/self-booking", headers=nurse)
    ).json()
    assert verdict["self_booking_allowed"] is False
    assert "protected identity" in verdict["reason"]

    needles = [e164, typed_mobile, typed_mobile.replace(" ", "").replace("-", ""), street, email]
    databases = await dump_databases(
        platform.infra.admin_url, services_only=True
    )  # every table of every service
    records = await read_everything(platform.infra.kafka_bootstrap)
    on_kafka = "\n".join(r.value.decode(errors="replace") + json.dumps(r.headers) for r in records)
    logs = _logs(platform)
    for needle in needles:
        assert needle not in databases, needle
        assert needle not in on_kafka, needle
        assert needle not in logs, needle
    for secret in (person.identifier, "Hemlig"):
        assert secret not in logs


async def test_id3_protection_arriving_leaves_the_contact_data_in_no_record_row_or_log(
    platform: Platform, gw: httpx.AsyncClient
) -> None:
    """Issue 9, defect 2: contact data entered while the person was not yet protected is, once
    protection arrives, in no Kafka record of any topic (read from offset 0), no row of any
    database and no log line: it never travelled in an event (docs/decisions/0002), and the
    SMS sender asked identity for the number only when it sent."""
    nurse = staff_headers(platform, Role.NURSE)
    (person,) = REGISTER.sample(1, seed=47, protected=False)
    typed_mobile, e164 = _mobile()
    street = f"Flyttgatan {uuid.uuid4().hex[:8]}"
    email = f"snart.skyddad.{uuid.uuid4().hex[:8]}@example.se"
    r = await gw.post(
        "/api/identity/patients", json={"identifier": person.identifier}, headers=nurse
    )
    patient_id = r.json()["patient_id"]
    r = await gw.put(
        f"/api/identity/patients/{patient_id}/contact",
        json={
            "mobile": typed_mobile,
            "email": email,
            "address": {"street": street, "postal_code": "582 22", "city": "Linköping"},
        },
        headers=nurse,
    )
    assert r.json()["contact"]["mobile"] == e164

    # Booked while unprotected: the confirmation goes to the number identity gives the sender.
    book = await make_time_book(gw, platform, columns=1)
    r = await book_for(
        gw, nurse, book.time_book_id, book.dose1, local(book.day, 9).isoformat(), patient_id
    )
    assert r.status_code == 201, r.text
    with platform.infra.standin("sms") as sms:

        async def texted() -> bool:
            return any(x["body"]["to"] == e164 for x in sms.received("/sms/v1/messages"))

        await eventually(texted, timeout=30)

        r = await gw.put(
            f"/api/identity/patients/{patient_id}/protection",
            json={"protected": True},
            headers=nurse,
        )
        assert r.status_code == 200
        assert r.json()["contact"] == {"mobile": None, "email": None, "address": None}

        # Booked again, now protected: no SMS (identity answers "protected").
        r = await book_for(
            gw, nurse, book.time_book_id, book.dose1, local(book.day, 10).isoformat(), patient_id
        )
        assert r.status_code == 201, r.text
        second = r.json()["booking_id"]
        notifications = Database(platform.infra.database_url("notifications"))
        try:

            async def withdrawn() -> bool:
                async with notifications.connect() as conn:
                    row = (
                        await conn.execute(
                            select(messages.c.status, messages.c.last_error).where(
                                messages.c.booking_id == second, messages.c.kind == "confirmation"
                            )
                        )
                    ).one_or_none()
                return row is not None and tuple(row) == ("withdrawn", "protected identity")

            await eventually(withdrawn, timeout=30)
        finally:
            await notifications.dispose()
        assert [x for x in sms.received("/sms/v1/messages") if x["body"]["to"] == e164][1:] == []

    needles = [e164, typed_mobile, typed_mobile.replace(" ", "").replace("-", ""), street, email]
    records = await read_everything(platform.infra.kafka_bootstrap)  # every topic, offset 0
    assert any(r.value and patient_id.encode() in r.value for r in records)
    on_kafka = "\n".join(r.value.decode(errors="replace") + json.dumps(r.headers) for r in records)
    databases = await dump_databases(
        platform.infra.admin_url, services_only=True
    )  # every table of every service
    logs = _logs(platform)
    for needle in needles:
        assert needle not in on_kafka, needle
        assert needle not in databases, needle
        assert needle not in logs, needle


async def test_id4_identifier_change_is_followed_across_services(
    platform: Platform, gw: httpx.AsyncClient
) -> None:
    nurse = staff_headers(platform, Role.NURSE)
    r = await gw.post(
        "/api/identity/patients/reserve",
        json={"given_name": "Ali", "family_name": "Reserv"},
        headers=nurse,
    )
    assert r.status_code == 201
    reserve = r.json()
    assert reserve["identifier_kind"] == "reservnummer"
    assert reserve["identifier"].startswith("05R")
    patient_id = reserve["patient_id"]

    async def booking_says(kind: str) -> bool:
        r = await gw.get(f"/api/booking/patients/{patient_id}/self-booking", headers=nurse)
        return r.status_code == 200 and r.json()["identifier_kind"] == kind

    await eventually(lambda: booking_says("reservnummer"))
    verdict = (
        await gw.get(f"/api/booking/patients/{patient_id}/self-booking", headers=nurse)
    ).json()
    assert verdict["self_booking_allowed"] is False

    (person,) = REGISTER.sample(1, seed=59, protected=False, coordination=True)
    r = await gw.put(
        f"/api/identity/patients/{patient_id}/identifier",
        json={"identifier": person.identifier},
        headers=nurse,
    )
    assert r.status_code == 200, r.text
    assert r.json()["patient_id"] == patient_id
    assert r.json()["identifier_kind"] == "samordningsnummer"

    await eventually(lambda: booking_says("samordningsnummer"))
    verdict = (
        await gw.get(f"/api/booking/patients/{patient_id}/self-booking", headers=nurse)
    ).json()
    assert verdict["self_booking_allowed"] is True

    records = await read_topic(
        platform.infra.kafka_bootstrap,
        IDENTITY,
        until=lambda rs: any(
            b"IdentifierChanged" in x.value and patient_id.encode() == x.key for x in rs
        ),
    )
    (changed,) = [
        json.loads(x.value)
        for x in records
        if x.key == patient_id.encode() and b"IdentifierChanged" in x.value
    ]
    assert changed["data"]["old"]["value"] == reserve["identifier"]
    assert changed["data"]["new"]["value"] == person.identifier

    # Another patient's identifier cannot be taken over.
    r = await gw.post(
        "/api/identity/patients/reserve",
        json={"given_name": "B", "family_name": "C"},
        headers=nurse,
    )
    r = await gw.put(
        f"/api/identity/patients/{r.json()['patient_id']}/identifier",
        json={"identifier": person.identifier},
        headers=nurse,
    )
    assert (r.status_code, r.json()["code"]) == (409, "identifier_taken")


async def test_id5_blocks_are_set_listed_lifted_and_published(
    platform: Platform, gw: httpx.AsyncClient
) -> None:
    nurse = staff_headers(platform, Role.NURSE)
    (person,) = REGISTER.sample(1, seed=71, protected=False)
    patient_id = (
        await gw.post(
            "/api/identity/patients", json={"identifier": person.identifier}, headers=nurse
        )
    ).json()["patient_id"]
    r = await gw.post(
        f"/api/identity/patients/{patient_id}/blocks",
        json={"scope": "care_provider", "target_id": "provider-vardcentral-ab"},
        headers=nurse,
    )
    assert r.status_code == 201
    (block,) = r.json()["blocks"]
    assert block["set_by"] == "SE2321000000-nurse"
    again = await gw.post(
        f"/api/identity/patients/{patient_id}/blocks",
        json={"scope": "care_provider", "target_id": "provider-vardcentral-ab"},
        headers=nurse,
    )
    assert again.status_code == 409
    listed = (await gw.get(f"/api/identity/patients/{patient_id}/blocks", headers=nurse)).json()
    assert [b["block_id"] for b in listed["blocks"]] == [block["block_id"]]
    r = await gw.delete(
        f"/api/identity/patients/{patient_id}/blocks/{block['block_id']}", headers=nurse
    )
    assert r.json()["blocks"] == []

    records = await read_topic(
        platform.infra.kafka_bootstrap,
        IDENTITY,
        until=lambda rs: (
            sum(b"BlocksChanged" in x.value and x.key == patient_id.encode() for x in rs) >= 2
        ),
    )
    published = [
        json.loads(x.value)["data"]["blocks"]
        for x in records
        if x.key == patient_id.encode() and b"BlocksChanged" in x.value
    ]
    assert [len(b) for b in published] == [1, 0]


async def test_id6_consent_is_active_until_it_expires(
    platform: Platform, gw: httpx.AsyncClient
) -> None:
    doctor = staff_headers(platform, Role.DOCTOR)
    (person,) = REGISTER.sample(1, seed=83, protected=False)
    patient_id = (
        await gw.post(
            "/api/identity/patients", json={"identifier": person.identifier}, headers=doctor
        )
    ).json()["patient_id"]
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    r = await gw.post(
        f"/api/identity/patients/{patient_id}/consents",
        json={"care_provider_id": "provider-x", "expires_at": past},
        headers=doctor,
    )
    assert (r.status_code, r.json()["details"][0]["field"]) == (422, "expires_at")

    expires = datetime.now(UTC) + timedelta(seconds=3)
    r = await gw.post(
        f"/api/identity/patients/{patient_id}/consents",
        json={"care_provider_id": "provider-vardcentral-ab", "expires_at": expires.isoformat()},
        headers=doctor,
    )
    assert r.status_code == 201, r.text
    (consent,) = r.json()["consents"]
    assert consent["active"] is True
    assert consent["recorded_by"] == "SE2321000000-doctor"
    await asyncio.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.5)
    (consent,) = (
        await gw.get(f"/api/identity/patients/{patient_id}/consents", headers=doctor)
    ).json()["consents"]
    assert consent["active"] is False  # expired, kept for the record

    r = await gw.post(
        f"/api/identity/patients/{patient_id}/consents",
        json={
            "care_provider_id": "provider-x",
            "expires_at": (datetime.now(UTC) + timedelta(days=90)).isoformat(),
        },
        headers=doctor,
    )
    fresh = r.json()["consents"][-1]
    r = await gw.delete(
        f"/api/identity/patients/{patient_id}/consents/{fresh['consent_id']}", headers=doctor
    )
    revoked = r.json()["consents"][-1]
    assert revoked["active"] is False and revoked["revoked_at"] is not None


async def test_id7_id8_access_log_shows_each_read_and_write(
    platform: Platform, gw: httpx.AsyncClient
) -> None:
    nurse = staff_headers(platform, Role.NURSE)
    booking_only = staff_headers(platform, Role.BOOKING_ONLY, unit_id="unit-motala")
    secretary = staff_headers(platform, Role.MEDICAL_SECRETARY)
    pnr = "200001012384"
    citizen = citizen_headers(platform, pnr)
    r = await gw.post(
        "/api/identity/patients",
        json={"identifier": pnr, "given_name": "Elsa", "family_name": "Millennie"},
        headers=nurse,
    )
    patient_id = r.json()["patient_id"]
    await gw.get(f"/api/identity/patients/{patient_id}", headers=nurse)
    typed, e164 = _mobile()
    r = await gw.put(
        f"/api/identity/patients/{patient_id}/contact", json={"mobile": typed}, headers=booking_only
    )
    assert r.status_code == 200  # ID-8: booking-only staff may add a mobile number
    assert r.json()["contact"]["mobile"] == e164
    bad = await gw.put(
        f"/api/identity/patients/{patient_id}/contact",
        json={"mobile": "(555) 123-4567"},
        headers=booking_only,
    )
    assert (bad.status_code, bad.json()["details"][0]["rule"]) == (422, "invalid_number")

    async def booking_knows() -> bool:
        return (
            await gw.get(f"/api/booking/patients/{patient_id}/self-booking", headers=nurse)
        ).status_code == 200

    await eventually(booking_knows)
    await gw.get("/api/identity/me", headers=citizen)

    expected = {
        ("identity.register_patient", "write", "SE2321000000-nurse"),
        ("identity.get_patient", "read", "SE2321000000-nurse"),
        ("identity.set_contact", "write", "SE2321000000-booking_only"),
        ("booking.self_booking", "read", "SE2321000000-nurse"),
        ("identity.get_me", "read", None),
    }

    async def logged() -> bool:
        r = await gw.get(f"/api/identity/patients/{patient_id}/access-log", headers=secretary)
        seen = {(e["operation"], e["action"], e["hsa_id"]) for e in r.json()["entries"]}
        return expected <= seen

    await eventually(logged)
    entries = (
        await gw.get(f"/api/identity/patients/{patient_id}/access-log", headers=secretary)
    ).json()["entries"]
    contact_write = next(e for e in entries if e["operation"] == "identity.set_contact")
    assert (contact_write["role"], contact_write["unit_id"]) == ("booking_only", "unit-motala")
    assert contact_write["assignment_id"] == "unit-motala:booking_only"
    citizen_read = next(e for e in entries if e["operation"] == "identity.get_me")
    assert citizen_read["actor_kind"] == "citizen"
    assert pnr not in json.dumps(entries)  # the actor is pseudonymous, never the personnummer

    # The citizen may read their own log; booking-only staff may not read anyone's.
    assert (
        await gw.get(f"/api/identity/patients/{patient_id}/access-log", headers=citizen)
    ).status_code == 200
    assert (
        await gw.get(f"/api/identity/patients/{patient_id}/access-log", headers=booking_only)
    ).status_code == 403

    logs = _logs(platform)
    for secret in (pnr, "20000101-2384", "Millennie", e164, typed):
        assert secret not in logs, secret
