"""BK-10 over the real platform: the journal's ``DoseAdministered`` / ``HistoricalDoseRecorded``
(published here by hand onto ``vaccinera.journal.v1``, as the journal's outbox relay will) name
the first day X the next dose may be given; booking then refuses a dose-2 time before X with
409 ``dose_too_early`` naming X, by staff, by the citizen and by reference and SMS code, for a
booking and a rebooking alike, and accepts X itself. A redelivered event changes nothing; a
patient without a recorded dose 1 is refused nothing. JR-6: the declaration's event carries the
answers."""

from __future__ import annotations

import asyncio
import json
import random
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from tests.booking_support import (
    DECLARATION,
    Book,
    book_for,
    local,
    make_time_book,
    register_patients,
    reserve_patient,
)
from tests.conftest import citizen_headers, staff_headers
from vaccinera_contracts.envelope import DomainEvent, new_envelope
from vaccinera_contracts.events import DoseAdministered, HistoricalDoseRecorded
from vaccinera_contracts.roles import Role
from vaccinera_contracts.topics import BOOKING
from vaccinera_devstack.platform import Platform
from vaccinera_devstack.testing import eventually, read_topic
from vaccinera_identity.population import SyntheticRegister
from vaccinera_kit.database import plain_url

pytestmark = pytest.mark.infra

SMS_PATH = "/sms/v1/messages"
CODE = re.compile(r"\bkod (\d{6})\b")


@pytest.fixture(scope="module")
async def producer(platform: Platform) -> AsyncIterator[AIOKafkaProducer]:
    kafka = AIOKafkaProducer(
        bootstrap_servers=platform.infra.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await kafka.start()
    yield kafka
    await kafka.stop()


@pytest.fixture
async def gw(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        yield client


async def publish(producer: AIOKafkaProducer, event: DomainEvent, times: int = 1) -> uuid.UUID:
    """As the journal's outbox relay publishes: keyed by patient, with id and type headers.
    ``times`` > 1 sends the very same record again, as Kafka redelivers it. Returns its id."""
    envelope = new_envelope(event, producer="journal")
    body = envelope.model_dump_json().encode()
    for _ in range(times):
        await producer.send_and_wait(
            event.topic,
            body,
            key=event.aggregate_key().encode(),
            headers=[
                ("event_id", str(envelope.event_id).encode()),
                ("event_type", event.event_type.encode()),
            ],
        )
    return envelope.event_id


def administered(patient_id: str, dose: int, next_dose_from: date | None) -> DoseAdministered:
    return DoseAdministered(
        patient_id=patient_id,
        administration_id=f"a-{uuid.uuid4()}",
        vaccine_id="v-comirnaty",
        vaccine_name="Comirnaty",
        dose_number=dose,
        batch_id=f"b-{uuid.uuid4()}",
        batch_number="FA1234",
        unit_id="unit-elsewhere",
        care_provider_id="provider-region",
        administered_at=datetime.now(UTC),
        vaccinator_hsa_id="SE2321000000-nurse",
        next_dose_from=next_dose_from,
    )


def historical(patient_id: str, dose: int, next_dose_from: date | None) -> HistoricalDoseRecorded:
    return HistoricalDoseRecorded(
        patient_id=patient_id,
        historical_dose_id=f"h-{uuid.uuid4()}",
        vaccine_id="v-comirnaty",
        vaccine_name="Comirnaty",
        dose_number=dose,
        given_on=date.today(),
        country="NO",
        unit_id="unit-centrum",
        care_provider_id="provider-region",
        recorded_at=datetime.now(UTC),
        recorded_by_hsa_id="SE2321000000-nurse",
        next_dose_from=next_dose_from,
    )


async def handled(platform: Platform, patient_id: str, *event_ids: uuid.UUID) -> date | None:
    """Once booking has handled the events: the first day of dose 2 it keeps for the patient."""
    conn = await asyncpg.connect(plain_url(platform.infra.database_url("booking")))

    async def all_handled() -> bool:
        found = await conn.fetchval(
            "SELECT count(*) FROM processed_events WHERE event_id = ANY($1::uuid[])",
            list(event_ids),
        )
        return bool(found == len(event_ids))

    try:
        await eventually(all_handled, timeout=60, interval=0.2)
        day: date | None = await conn.fetchval(
            "SELECT next_dose_from FROM next_doses WHERE patient_id = $1 AND dose_number = 1",
            patient_id,
        )
        return day
    finally:
        await conn.close()


async def book_with_day_before(gw: httpx.AsyncClient, platform: Platform) -> tuple[Book, date]:
    """A time book with times on day X (a weekday) and on the day before it."""
    book = await make_time_book(gw, platform, columns=1, hours=(8, 9))
    before = book.day - timedelta(days=1)
    r = await gw.post(
        f"/api/booking/time-books/{book.time_book_id}/slots",
        headers=staff_headers(platform, Role.TIME_BOOK_ADMIN),
        json={
            "resource": "nurse",
            "columns": [1],
            "first_day": before.isoformat(),
            "last_day": before.isoformat(),
            "weekdays": list(range(7)),
            "day_start": "08:00",
            "day_end": "09:00",
            "slot_minutes": 5,
        },
    )
    assert r.status_code == 201, r.text
    return book, book.day


def assert_too_early(r: httpx.Response, x: date) -> None:
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["code"] == "dose_too_early"
    assert x.isoformat() in body["message"]
    assert [(d["field"], d["rule"]) for d in body["details"]] == [("start", "dose_too_early")]
    assert body["earliest_date"] == x.isoformat()


async def test_bk10_staff_booking_and_rebooking_of_dose_2_wait_for_dose_1s_interval(
    gw: httpx.AsyncClient, platform: Platform, producer: AIOKafkaProducer
) -> None:
    book, x = await book_with_day_before(gw, platform)
    before = x - timedelta(days=1)
    nurse = staff_headers(platform, Role.NURSE)
    patient, other = await register_patients(gw, platform, 2, seed=1010, mobiles=False)
    # Dose 1 given, the next from X; Kafka delivers the record three times.
    given = await publish(producer, administered(patient, 1, x), times=3)
    assert await handled(platform, patient, given) == x

    r = await book_for(
        gw, nurse, book.time_book_id, book.dose2, local(before, 8, 0).isoformat(), patient
    )
    assert_too_early(r, x)
    r = await book_for(
        gw, nurse, book.time_book_id, book.dose2, local(before, 8, 55).isoformat(), patient
    )
    assert_too_early(r, x)

    # On X itself, the first time of the day.
    r = await book_for(
        gw, nurse, book.time_book_id, book.dose2, local(x, 8, 0).isoformat(), patient
    )
    assert r.status_code == 201, r.text
    booking_id = r.json()["booking_id"]

    # A rebooking to the day before is refused and leaves the booking where it was.
    r = await gw.post(
        f"/api/booking/bookings/{booking_id}/rebook",
        headers=nurse,
        json={"start": local(before, 8, 30).isoformat()},
    )
    assert_too_early(r, x)
    r = await gw.get(f"/api/booking/bookings/{booking_id}", headers=nurse)
    assert datetime.fromisoformat(r.json()["start"]) == local(x, 8, 0)
    # Later on X is fine.
    r = await gw.post(
        f"/api/booking/bookings/{booking_id}/rebook",
        headers=nurse,
        json={"start": local(x, 8, 30).isoformat()},
    )
    assert r.status_code == 200, r.text

    # A dose 1 the day before is no dose 2; a patient without a recorded dose 1 (given
    # elsewhere, entered later) is refused nothing.
    r = await book_for(
        gw, nurse, book.time_book_id, book.dose1, local(before, 8, 5).isoformat(), patient
    )
    assert r.status_code == 201, r.text
    r = await book_for(
        gw, nurse, book.time_book_id, book.dose2, local(before, 8, 10).isoformat(), other
    )
    assert r.status_code == 201, r.text


async def test_bk10_a_citizen_is_refused_a_dose_2_before_a_historical_dose_1s_interval(
    gw: httpx.AsyncClient, platform: Platform, producer: AIOKafkaProducer
) -> None:
    book, x = await book_with_day_before(gw, platform)
    before = x - timedelta(days=1)
    (person,) = SyntheticRegister().sample(1, seed=1011, protected=False)
    me = citizen_headers(platform, person.identifier)
    r = await gw.post("/api/identity/me", headers=me)
    assert r.status_code in (200, 201), r.text
    patient = r.json()["patient_id"]
    # Dose 1 given abroad and entered as history.
    entered = await publish(producer, historical(patient, 1, x))
    assert await handled(platform, patient, entered) == x

    def booking(start: datetime) -> dict[str, Any]:
        return {
            "time_book_id": book.time_book_id,
            "visit_type_id": book.dose2,
            "start": start.isoformat(),
            "health_declaration": DECLARATION,
        }

    r = await gw.post("/api/booking/bookings", headers=me, json=booking(local(before, 8, 0)))
    assert_too_early(r, x)
    r = await gw.post("/api/booking/bookings", headers=me, json=booking(local(x, 8, 15)))
    assert r.status_code == 201, r.text
    booking_id = r.json()["booking_id"]
    r = await gw.post(
        f"/api/booking/bookings/{booking_id}/rebook",
        headers=me,
        json={"start": local(before, 8, 15).isoformat()},
    )
    assert_too_early(r, x)

    # JR-6: the declaration given with the booking travels with its answers in words.
    records = await read_topic(
        platform.infra.kafka_bootstrap,
        BOOKING,
        until=lambda rs: any(_declaration_of(x_, booking_id) for x_ in rs),
    )
    (declared,) = [d for r_ in records if (d := _declaration_of(r_, booking_id))]
    assert declared["submitted_at"] is not None
    assert [(a["question_id"], a["answer"]) for a in declared["answers"]] == [
        ("fever", "Nej"),
        ("allergy", "Nej"),
        ("anticoagulants", "Nej"),
        ("recent_vaccine", "Nej"),
    ]


def _declaration_of(record: Any, booking_id: str) -> dict[str, Any] | None:
    envelope = json.loads(record.value)
    if envelope["type"] != "booking.HealthDeclarationSubmitted":
        return None
    data: dict[str, Any] = envelope["data"]
    return data if data["booking_id"] == booking_id else None


async def sms_code(platform: Platform, mobile: str) -> str:
    """The manage code texted to ``mobile``, as the patient gets it."""
    found: list[str] = []

    def codes() -> list[str]:
        with platform.infra.standin("sms") as sms:
            texts = [r["body"]["text"] for r in sms.received(SMS_PATH) if r["body"]["to"] == mobile]
        return [m.group(1) for t in texts if (m := CODE.search(t))]

    async def arrived() -> bool:
        found[:] = await asyncio.to_thread(codes)
        return bool(found)

    await eventually(arrived, timeout=30)
    return found[0]


async def test_bk10_a_rebooking_by_reference_and_code_waits_for_the_interval_too(
    gw: httpx.AsyncClient, platform: Platform, producer: AIOKafkaProducer
) -> None:
    book, x = await book_with_day_before(gw, platform)
    before = x - timedelta(days=1)
    booker = staff_headers(platform, Role.BOOKING_ONLY)
    patient = await reserve_patient(gw, booker, "Okänd", "Patient")
    mobile = f"+4670{random.randrange(10**7):07d}"
    r = await gw.put(
        f"/api/identity/patients/{patient}/contact", json={"mobile": mobile}, headers=booker
    )
    assert r.status_code == 200, r.text
    # A later dose 1 moved X on; the earlier one arriving after it does not move it back.
    given = await publish(producer, administered(patient, 1, x))
    entered = await publish(producer, historical(patient, 1, x - timedelta(days=10)))
    assert await handled(platform, patient, given, entered) == x

    r = await book_for(
        gw, booker, book.time_book_id, book.dose2, local(x, 8, 0).isoformat(), patient
    )
    assert r.status_code == 201, r.text
    reference = r.json()["reference"]
    code = await sms_code(platform, mobile)
    client = {"X-Forwarded-For": f"198.19.{random.randrange(256)}.{random.randrange(1, 255)}"}
    r = await gw.post(
        "/api/booking/manage/rebook",
        headers=client,
        json={"reference": reference, "code": code, "start": local(before, 8, 0).isoformat()},
    )
    assert_too_early(r, x)
    r = await gw.post(
        "/api/booking/manage/rebook",
        headers=client,
        json={"reference": reference, "code": code, "start": local(x, 8, 20).isoformat()},
    )
    assert r.status_code == 200, r.text
