"""Who sees which text messages, over the real platform (AC-5, issue 9): staff only those about
bookings at the unit of their active assignment, never with the booking's manage code; the
patient their own. The code reaches the SMS provider and nobody else."""

from __future__ import annotations

import json
import random
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.booking_support import book_for, local, make_time_book
from tests.conftest import citizen_headers, staff_headers
from vaccinera_contracts.roles import Role
from vaccinera_contracts.topics import BOOKING
from vaccinera_devstack import tokens
from vaccinera_devstack.platform import SERVICE_MODULES, Platform
from vaccinera_devstack.standins import StandIn
from vaccinera_devstack.testing import dump_databases, eventually, read_everything
from vaccinera_identity.population import SyntheticRegister
from vaccinera_kit.sealed import Opener

pytestmark = pytest.mark.infra

SMS_PATH = "/sms/v1/messages"
CODE = re.compile(r"kod (\d{6})\.")


@pytest.fixture
async def gw(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        yield client


@pytest.fixture
def sms(platform: Platform) -> Iterator[StandIn]:
    with platform.infra.standin("sms") as standin:
        yield standin


def booking_only_at(platform: Platform, unit_id: str, care_provider_id: str) -> dict[str, str]:
    token = tokens.staff_token(
        platform.keys, Role.BOOKING_ONLY, unit_id=unit_id, care_provider_id=care_provider_id
    )
    return {"authorization": f"Bearer {token}"}


async def citizen_with_mobile(
    gw: httpx.AsyncClient, platform: Platform, seed: int
) -> tuple[str, dict[str, str], str]:
    """A citizen registered by their own BankID login, with a mobile number: (patient id,
    their headers, the number in E.164)."""
    (person,) = SyntheticRegister().sample(1, seed=seed, protected=False)
    me = citizen_headers(platform, person.identifier)
    r = await gw.post("/api/identity/me", headers=me)
    assert r.status_code in (200, 201), r.text
    patient_id: str = r.json()["patient_id"]
    r = await gw.put(
        f"/api/identity/patients/{patient_id}/contact",
        json={"mobile": f"070{random.randrange(10**7):07d}"},
        headers=me,
    )
    assert r.status_code == 200, r.text
    return patient_id, me, r.json()["contact"]["mobile"]


@dataclass(frozen=True)
class Booked:
    patient_id: str
    me: dict[str, str]
    mobile: str
    booking_id: str
    reference: str
    code: str  # from the SMS the patient got


async def booked_and_texted(
    gw: httpx.AsyncClient, platform: Platform, sms: StandIn, seed: int
) -> Booked:
    """A citizen with a mobile, booked by a nurse at unit-centrum, and the confirmation SMS."""
    book = await make_time_book(gw, platform, columns=1)  # at unit-centrum
    patient_id, me, mobile = await citizen_with_mobile(gw, platform, seed=seed)
    nurse = staff_headers(platform, Role.NURSE)
    r = await book_for(
        gw, nurse, book.time_book_id, book.dose1, local(book.day, 10).isoformat(), patient_id
    )
    assert r.status_code == 201, r.text
    reference = r.json()["reference"]

    def confirmation_texts() -> list[str]:
        return [
            t
            for rec in sms.received(SMS_PATH)
            if rec["body"]["to"] == mobile and reference in (t := rec["body"]["text"])
        ]

    async def texted() -> bool:
        return bool(confirmation_texts())

    await eventually(texted, timeout=30)
    (text,) = confirmation_texts()
    found = CODE.search(text)
    assert found, text  # the patient's SMS carries the code
    return Booked(patient_id, me, mobile, r.json()["booking_id"], reference, found.group(1))


async def test_ac5_messages_stay_at_the_unit_and_the_code_stays_with_the_patient(
    gw: httpx.AsyncClient, platform: Platform, sms: StandIn
) -> None:
    booked = await booked_and_texted(gw, platform, sms, seed=9101)
    patient_id, me, mobile = booked.patient_id, booked.me, booked.mobile
    reference, code = booked.reference, booked.code
    path = f"/api/notifications/patients/{patient_id}/messages"

    # Staff of another care provider, and of another unit of the same provider: nothing.
    for unit, provider in (
        ("unit-halsan-linkoping", "provider-vardcentral-ab"),
        ("unit-motala", "provider-region"),
    ):
        r = await gw.get(path, headers=booking_only_at(platform, unit, provider))
        assert r.status_code == 200, r.text
        assert r.json()["messages"] == [], unit
        assert reference not in r.text and code not in r.text

    # Staff at the booking's unit: the messages, the code masked.
    r = await gw.get(path, headers=booking_only_at(platform, "unit-centrum", "provider-region"))
    assert r.status_code == 200, r.text
    listed = r.json()["messages"]
    (confirmation,) = [m for m in listed if m["kind"] == "confirmation"]
    assert confirmation["unit_id"] == "unit-centrum"
    assert f"Bokningsnummer {reference}, kod ******." in confirmation["text"]
    assert code not in r.text and mobile not in r.text

    # The patient sees their own (the code masked there too: they have it in the SMS).
    r = await gw.get(path, headers=me)
    assert r.status_code == 200, r.text
    assert [m["message_id"] for m in r.json()["messages"]] == [m["message_id"] for m in listed]
    assert code not in r.text

    # Another citizen sees none of them.
    _, other, _ = await citizen_with_mobile(gw, platform, seed=9102)
    r = await gw.get(path, headers=other)
    assert (r.status_code, r.json()["code"]) == (403, "not_your_data")


def standalone(code: str) -> re.Pattern[str]:
    """The code as a token of its own (not a piece of a longer number, an id or a fraction of
    a second), or right after "kod"."""
    return re.compile(rf"(?<![\w.:-]){code}(?![\w-])|kod {code}")


async def test_issue9_the_manage_code_reaches_the_sms_provider_and_nothing_else(
    gw: httpx.AsyncClient, platform: Platform, sms: StandIn
) -> None:
    booked = await booked_and_texted(gw, platform, sms, seed=9103)
    needle = standalone(booked.code)

    # The BookingCreated record on Kafka carries the code sealed, never in clear.
    records = await read_everything(platform.infra.kafka_bootstrap)
    (created,) = [
        json.loads(r.value)
        for r in records
        if r.topic == BOOKING
        and r.headers.get("event_type") == "booking.BookingCreated"
        and booked.booking_id.encode() in r.value
    ]
    assert "manage_code" not in created["data"]
    assert created["data"]["sealed_manage_code"].startswith("rsa-oaep-256.")
    assert not re.search(r"(?<![\w.])\d{6}(?!\w)", json.dumps(created["data"]["visit"]))
    # Sealed to notifications' key, for this booking only.
    opener = Opener.from_file(platform.manage_code_keys.private_pem)
    sealed = created["data"]["sealed_manage_code"]
    assert opener.open(sealed, context=booked.booking_id) == booked.code

    # Nowhere else: no record of any topic, no row of any database, no log line.
    on_kafka = "\n".join(r.value.decode(errors="replace") + json.dumps(r.headers) for r in records)
    assert not needle.search(on_kafka)
    # The platform's databases (other tests' scratch databases hold made-up numbers).
    platform_databases = tuple(f"vaccinera_{s.replace('-', '_')}." for s in SERVICE_MODULES)
    rows = [
        line
        for line in (
            await dump_databases(platform.infra.admin_url, services_only=True)
        ).splitlines()
        if line.startswith(platform_databases)
    ]
    assert any(line.startswith("vaccinera_notifications.") for line in rows)
    assert not needle.search("\n".join(rows))
    folders = {platform.base_dir / "logs", platform.infra.base_dir / "logs"}
    logs = "\n".join(
        p.read_text(errors="replace") for folder in folders for p in folder.glob("*.log")
    )
    assert not needle.search(logs)
    # No staff screen shows it either.
    for role in Role:
        r = await gw.get(
            f"/api/notifications/patients/{booked.patient_id}/messages",
            headers=staff_headers(platform, role),
        )
        assert r.status_code == 200, (role, r.text)
        assert not needle.search(r.text), role
        assert "kod ******" in r.text
