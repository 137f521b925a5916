"""Notifications over the real platform (NT-1..NT-4): booking events on Kafka become text
messages at the SMS provider stand-in, sent to the number identity gives the sender at that
moment (no copy kept, ID-3); no SMS without a mobile or to a protected patient; one SMS per
patient for a mass cancellation; each message once despite redelivery, provider failures and
a replica killed mid-burst."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import delete, func, select

from tests.conftest import staff_headers
from vaccinera_contracts.envelope import DomainEvent, EventEnvelope, new_envelope
from vaccinera_contracts.events import (
    BookingCancelled,
    BookingCreated,
    BookingRebooked,
    Visit,
)
from vaccinera_contracts.roles import Role
from vaccinera_devstack import tokens
from vaccinera_devstack.platform import Platform, wait_ready
from vaccinera_devstack.process import ManagedProcess, free_port
from vaccinera_devstack.standins import RequestRecord, StandIn
from vaccinera_devstack.testing import dump_databases, eventually
from vaccinera_kit.database import PROCESSED_EVENTS, Database, service_metadata
from vaccinera_kit.sealed import Sealer
from vaccinera_notifications.settings import Settings as NotificationSettings
from vaccinera_notifications.tables import bookings as booking_states
from vaccinera_notifications.tables import messages

pytestmark = pytest.mark.infra

SMS_PATH = "/sms/v1/messages"
UNIT = "Vårdcentralen Centrum"

Row = dict[str, Any]
processed_events = service_metadata().tables[PROCESSED_EVENTS]


# --- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
async def producer(platform: Platform) -> AsyncIterator[AIOKafkaProducer]:
    kafka = AIOKafkaProducer(
        bootstrap_servers=platform.infra.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await kafka.start()
    yield kafka
    await kafka.stop()


@pytest.fixture(scope="module")
async def db(platform: Platform) -> AsyncIterator[Database]:
    """The notifications service's own database, read directly."""
    database = Database(platform.infra.database_url("notifications"))
    yield database
    await database.dispose()


@pytest.fixture
def sms(platform: Platform) -> Iterator[StandIn]:
    with platform.infra.standin("sms") as standin:
        standin.reset()
        yield standin
        standin.behave()


def spans(platform: Platform, service: str) -> list[dict[str, Any]]:
    assert platform.spans_dir is not None
    path = platform.spans_dir / f"{service}.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line.strip()]


def envelope_bytes(event: DomainEvent) -> tuple[EventEnvelope, bytes]:
    envelope = new_envelope(event, producer="test")
    return envelope, envelope.model_dump_json().encode()


async def send(producer: AIOKafkaProducer, event: DomainEvent, body: bytes, event_id: str) -> None:
    """As the outbox relay publishes: keyed by aggregate, with event id and type headers."""
    await (await enqueue(producer, event, body, event_id))


async def enqueue(
    producer: AIOKafkaProducer, event: DomainEvent, body: bytes, event_id: str
) -> asyncio.Future[Any]:
    """Hand the record to the producer's batch; the future resolves once Kafka has it."""
    future: asyncio.Future[Any] = await producer.send(
        event.topic,
        body,
        key=event.aggregate_key().encode(),
        headers=[("event_id", event_id.encode()), ("event_type", event.event_type.encode())],
    )
    return future


async def publish(producer: AIOKafkaProducer, *events: DomainEvent) -> list[str]:
    ids = []
    for event in events:
        envelope, body = envelope_bytes(event)
        await send(producer, event, body, str(envelope.event_id))
        ids.append(str(envelope.event_id))
    return ids


def new_patient() -> str:
    """A patient id identity does not know (no number to be had)."""
    return f"p-{uuid.uuid4()}"


def new_mobile() -> str:
    return f"+4670{random.randrange(10**7):07d}"


def visit(start: datetime, dose: int | None = 1) -> Visit:
    return Visit(
        unit_id="unit-centrum",
        unit_name=UNIT,
        time_book_id="tb-1",
        visit_type_id=f"vt-dose-{dose}",
        visit_type_name=f"Covid-19 dos {dose}" if dose else "Influensavaccination",
        dose=dose,
        start=start,
        end=start + timedelta(minutes=10),
    )


def local_time(moment: datetime) -> str:
    """A time as the SMS names it, in the region's time zone."""
    return f"kl {moment.astimezone(ZoneInfo('Europe/Stockholm')):%H:%M}"


# Booking seals each manage code to notifications' public key (the platform's dev key pair);
# the codes in clear, by booking id, for the tests to look for.
SEALER: list[Sealer] = []
CODES: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def sealer(platform: Platform) -> None:
    SEALER[:] = [Sealer.from_file(platform.manage_code_keys.public_pem)]


def booking(
    patient_id: str, start: datetime, dose: int | None = 1, booking_id: str | None = None
) -> BookingCreated:
    booking_id = booking_id or f"b-{uuid.uuid4()}"
    code = CODES[booking_id] = f"{random.randrange(10**6):06d}"
    return BookingCreated(
        patient_id=patient_id,
        booking_id=booking_id,
        reference=f"R{random.randrange(10**6):06d}",
        sealed_manage_code=SEALER[0].seal(code, context=booking_id),
        visit=visit(start, dose),
        booked_by="citizen",
    )


async def patients_in_identity(
    platform: Platform, mobiles: list[str | None], concurrency: int = 20
) -> list[str]:
    """A patient in identity for each entry, with that mobile number (None: without one).
    The numbers stay there: the SMS sender asks identity for them when it sends."""
    nurse = staff_headers(platform, Role.NURSE)
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as gw:

        async def one(mobile: str | None) -> str:
            async with sem:
                r = await gw.post(
                    "/api/identity/patients/reserve",
                    json={"given_name": "Test", "family_name": "Patient"},
                    headers=nurse,
                )
                assert r.status_code == 201, r.text
                patient_id: str = r.json()["patient_id"]
                if mobile is not None:
                    r = await gw.put(
                        f"/api/identity/patients/{patient_id}/contact",
                        json={"mobile": mobile},
                        headers=nurse,
                    )
                    assert r.status_code == 200, r.text
                return patient_id

        return list(await asyncio.gather(*(one(m) for m in mobiles)))


async def with_mobile(platform: Platform) -> tuple[str, str]:
    """A new patient in identity with a new mobile number."""
    mobile = new_mobile()
    (patient,) = await patients_in_identity(platform, [mobile])
    return patient, mobile


def confirmation_row_fields(row: Row) -> str:
    return " ".join(str(v) for v in row.values())


async def one(db: Database, table: Any, *where: Any) -> Row | None:
    async with db.connect() as conn:
        row = (await conn.execute(select(table).where(*where))).first()
    return None if row is None else dict(row._mapping)


async def count(db: Database, table: Any, *where: Any) -> int:
    async with db.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(table).where(*where)) or 0)


async def messages_of(db: Database, patient_id: str) -> list[Row]:
    async with db.connect() as conn:
        rows = await conn.execute(select(messages).where(messages.c.patient_id == patient_id))
    return sorted((dict(r._mapping) for r in rows), key=lambda d: (d["due_at"], d["message_id"]))


async def message(db: Database, message_id: str) -> Row:
    row = await one(db, messages, messages.c.message_id == message_id)
    assert row is not None, message_id
    return row


async def wait_status(db: Database, message_id: str, status: str, timeout: float = 20) -> Row:  # noqa: ASYNC109
    async def reached() -> bool:
        row = await one(db, messages, messages.c.message_id == message_id)
        return row is not None and row["status"] == status

    await eventually(reached, timeout=timeout)
    return await message(db, message_id)


def sent_to(sms: StandIn, mobile: str) -> list[RequestRecord]:
    return [r for r in sms.received(SMS_PATH) if r["body"]["to"] == mobile]


def keyed(sms: StandIn, key: str, *, include_rejected: bool = False) -> list[RequestRecord]:
    return [
        r
        for r in sms.received(SMS_PATH, include_rejected=include_rejected)
        if r["headers"].get("idempotency-key") == key
    ]


# --- NT-1 ---------------------------------------------------------------------------------------


async def test_nt1_confirmation_reminders_rebooking_and_cancellation(
    platform: Platform, producer: AIOKafkaProducer, db: Database, sms: StandIn
) -> None:
    patient, mobile = await with_mobile(platform)
    start = datetime.now(UTC) + timedelta(days=3)
    created = booking(patient, start, dose=1)
    (created_id,) = await publish(producer, created)

    # The confirmation reaches the provider with the reference and the manage code.
    confirmation = await wait_status(db, f"{created_id}:confirmation", "sent")
    (record,) = sent_to(sms, mobile)
    assert record["status"] == 202
    assert record["headers"]["idempotency-key"] == f"{created_id}:confirmation"
    assert record["body"]["sender"] == "Vaccinera"
    text = record["body"]["text"]
    code = CODES[created.booking_id]
    # The code, sealed in the event and in the row, is put in only for the provider.
    assert text == confirmation["text"].replace("{kod}", code)
    assert code not in confirmation["text"] and code not in confirmation_row_fields(confirmation)
    assert confirmation["sealed_code"] is None  # not kept once sent
    assert text.startswith(f"Välkommen till {UNIT} ")
    assert f"Bokningsnummer {created.reference}, kod {code}." in text
    assert confirmation["provider_message_id"] and confirmation["sent_at"]
    # The send joins the trace of the event's handling.
    trace_id = record["headers"]["traceparent"].split("-")[1]
    handled = [
        s
        for s in spans(platform, "notifications")
        if s["name"] == "vaccinera.booking.v1 process booking.BookingCreated"
    ]
    assert trace_id in {s["context"]["trace_id"].removeprefix("0x") for s in handled}

    # Reminders 24 h and 2 h before the dose-1 visit, waiting.
    reminders = [m for m in await messages_of(db, patient) if m["kind"] == "reminder"]
    assert [(m["due_at"], m["status"]) for m in reminders] == [
        (start - timedelta(hours=24), "scheduled"),
        (start - timedelta(hours=2), "scheduled"),
    ]

    # Rebooked: a notice, the old reminders withdrawn, new ones for the new time.
    new_start = start + timedelta(days=7)
    (rebooked_id,) = await publish(
        producer,
        BookingRebooked(
            patient_id=patient,
            booking_id=created.booking_id,
            reference=created.reference,
            previous_start=start,
            visit=visit(new_start, dose=1),
            rebooked_by="citizen",
        ),
    )
    await wait_status(db, f"{rebooked_id}:rebooked", "sent")
    assert sent_to(sms, mobile)[-1]["body"]["text"].startswith("Din tid är flyttad. Välkommen")
    by_event = {m["message_id"]: m for m in await messages_of(db, patient)}
    for lead in ("24h", "2h"):
        old = by_event[f"{created_id}:reminder-{lead}"]
        assert (old["status"], old["last_error"]) == ("withdrawn", "booking moved")
    new = [by_event[f"{rebooked_id}:reminder-{lead}"] for lead in ("24h", "2h")]
    assert [(m["due_at"], m["status"]) for m in new] == [
        (new_start - timedelta(hours=24), "scheduled"),
        (new_start - timedelta(hours=2), "scheduled"),
    ]

    # Cancelled: a notice, and no reminder left.
    (cancelled_id,) = await publish(
        producer,
        BookingCancelled(
            patient_id=patient,
            booking_id=created.booking_id,
            reference=created.reference,
            visit=visit(new_start, dose=1),
            cancelled_by="citizen",
        ),
    )
    await wait_status(db, f"{cancelled_id}:cancelled", "sent")
    assert " är avbokad. " in sent_to(sms, mobile)[-1]["body"]["text"]
    statuses = {m["message_id"]: m["status"] for m in await messages_of(db, patient)}
    assert [s for i, s in statuses.items() if "reminder" in i] == ["withdrawn"] * 4
    assert len(sent_to(sms, mobile)) == 3

    # Staff read the history through the gateway (every send and its status).
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=10) as client:
        r = await client.get(
            f"/api/notifications/patients/{patient}/messages",
            headers=staff_headers(platform, Role.BOOKING_ONLY),
        )
    assert r.status_code == 200, r.text
    listed = r.json()["messages"]
    assert Counter((m["kind"], m["status"]) for m in listed) == {
        ("confirmation", "sent"): 1,
        ("rebooked", "sent"): 1,
        ("cancelled", "sent"): 1,
        ("reminder", "withdrawn"): 4,
    }
    assert all(mobile not in str(m) for m in listed)
    assert code not in r.text
    (shown,) = [m["text"] for m in listed if m["kind"] == "confirmation"]
    assert f"Bokningsnummer {created.reference}, kod ******." in shown


async def test_nt1_reminder_goes_out_when_due_and_not_for_other_visits(
    platform: Platform, producer: AIOKafkaProducer, db: Database, sms: StandIn
) -> None:
    patient, mobile = await with_mobile(platform)
    # Starts in 2 h + 2 s: the 24 h reminder is already past, the 2 h one is due in 2 s.
    start = datetime.now(UTC) + timedelta(hours=2, seconds=2)
    dose2, other = booking(patient, start, dose=2), booking(patient, start, dose=None)
    dose2_id, other_id = await publish(producer, dose2, other)

    reminder = await wait_status(db, f"{dose2_id}:reminder-2h", "sent")
    assert reminder["sent_at"] >= reminder["due_at"]
    kinds = Counter(m["kind"] for m in await messages_of(db, patient))
    assert kinds == {"confirmation": 2, "reminder": 1}
    texts = [r["body"]["text"] for r in sent_to(sms, mobile)]
    assert sum(t.startswith("Påminnelse: välkommen till") for t in texts) == 1
    assert CODES[dose2.booking_id] not in reminder["text"] and reminder["sealed_code"] is None
    assert not await one(db, messages, messages.c.message_id == f"{other_id}:reminder-2h")


async def test_nt1_cancellation_of_a_booking_never_seen_before_is_still_sent(
    platform: Platform, producer: AIOKafkaProducer, db: Database, sms: StandIn
) -> None:
    # E.g. booked before this service kept bookings: the cancellation still reaches the patient.
    patient, mobile = await with_mobile(platform)
    unknown = booking(patient, datetime.now(UTC) + timedelta(days=1))
    (event_id,) = await publish(
        producer,
        BookingCancelled(
            patient_id=patient,
            booking_id=unknown.booking_id,
            reference=unknown.reference,
            visit=unknown.visit,
            cancelled_by="staff",
        ),
    )
    await wait_status(db, f"{event_id}:cancelled", "sent")
    state = await one(db, booking_states, booking_states.c.booking_id == unknown.booking_id)
    assert state is not None and state["cancelled"] is True
    assert len(sent_to(sms, mobile)) == 1


# --- NT-2 ---------------------------------------------------------------------------------------


async def test_nt2_no_sms_without_a_mobile_number(
    platform: Platform, producer: AIOKafkaProducer, db: Database, sms: StandIn
) -> None:
    unknown = new_patient()  # not in identity at all
    never_given, removed = await patients_in_identity(platform, [None, new_mobile()])
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=10) as gw:
        r = await gw.delete(
            f"/api/identity/patients/{removed}/contact", headers=staff_headers(platform, Role.NURSE)
        )
    assert r.status_code == 200, r.text
    start = datetime.now(UTC) + timedelta(days=2)
    ids = await publish(
        producer, booking(unknown, start), booking(never_given, start), booking(removed, start)
    )
    for event_id in ids:
        skipped = await wait_status(db, f"{event_id}:confirmation", "skipped")
        assert skipped["last_error"] == "no mobile number"
    assert not [r for r in sms.received(SMS_PATH) if r["body"]["reference"].split(":")[0] in ids]


async def test_nt2_never_an_sms_to_a_protected_patient(
    platform: Platform, producer: AIOKafkaProducer, db: Database, sms: StandIn
) -> None:
    patient, mobile = await with_mobile(platform)
    start = datetime.now(UTC) + timedelta(days=2)
    (first,) = await publish(producer, booking(patient, start))
    await wait_status(db, f"{first}:confirmation", "sent")

    # Protection arrives: identity purges the contact, and its ProtectionChanged withdraws the
    # waiting reminders here.
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=10) as gw:
        r = await gw.put(
            f"/api/identity/patients/{patient}/protection",
            json={"protected": True},
            headers=staff_headers(platform, Role.NURSE),
        )
    assert r.status_code == 200, r.text
    for lead in ("24h", "2h"):
        withdrawn = await wait_status(db, f"{first}:reminder-{lead}", "withdrawn")
        assert withdrawn["last_error"] == "protected identity"
    (second,) = await publish(producer, booking(patient, start + timedelta(days=1)))
    refused = await wait_status(db, f"{second}:confirmation", "withdrawn")
    assert refused["last_error"] == "protected identity"
    assert len(sent_to(sms, mobile)) == 1  # the confirmation from before the protection


async def test_id3_the_number_comes_from_identity_when_the_sms_is_sent(
    platform: Platform, producer: AIOKafkaProducer, db: Database, sms: StandIn
) -> None:
    """Issue 9, defect 2: no copy of the number here; the sender asks identity, with its own
    token, for the batch it claimed, so a changed number is used at once, and identity logs
    each read (ID-7)."""
    patient, first_mobile = await with_mobile(platform)
    # The 2 h reminder of this dose-1 visit falls due in a few seconds.
    start = datetime.now(UTC) + timedelta(hours=2, seconds=6)
    (event_id,) = await publish(producer, booking(patient, start, dose=1))
    await wait_status(db, f"{event_id}:confirmation", "sent")
    assert len(sent_to(sms, first_mobile)) == 1

    second_mobile = new_mobile()
    nurse = staff_headers(platform, Role.NURSE)
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=10) as gw:
        r = await gw.put(
            f"/api/identity/patients/{patient}/contact",
            json={"mobile": second_mobile},
            headers=nurse,
        )
        assert r.status_code == 200, r.text
        await wait_status(db, f"{event_id}:reminder-2h", "sent", timeout=30)
        assert len(sent_to(sms, second_mobile)) == 1  # the reminder, to the number of now
        assert len(sent_to(sms, first_mobile)) == 1

        # Each send's lookup is in the patient's access log (it arrives there as an event).
        reads: list[dict[str, Any]] = []

        async def both_reads_logged() -> bool:
            log = await gw.get(f"/api/identity/patients/{patient}/access-log", headers=nurse)
            reads[:] = [
                e for e in log.json()["entries"] if e["operation"] == "identity.sms_recipients"
            ]
            return len(reads) >= 2

        await eventually(both_reads_logged, timeout=20)
    assert {(e["actor_kind"], e["actor"], e["purpose"]) for e in reads} == {
        ("service", "notifications", "SMS delivery")
    }
    dump = await dump_databases(platform.infra.admin_url, services_only=True)
    notifications_rows = [x for x in dump.splitlines() if x.startswith("vaccinera_notifications.")]
    assert notifications_rows
    assert not [x for x in notifications_rows if first_mobile in x or second_mobile in x]


async def test_id3_only_the_notifications_service_may_ask_where_to_text(
    platform: Platform,
) -> None:
    patient, mobile = await with_mobile(platform)
    (protected,) = await patients_in_identity(platform, [None])
    nurse = staff_headers(platform, Role.NURSE)
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=10) as gw:
        r = await gw.put(
            f"/api/identity/patients/{protected}/protection",
            json={"protected": True},
            headers=nurse,
        )
        assert r.status_code == 200, r.text
    body = {"patient_ids": [patient, protected, new_patient()]}

    def service(name: str) -> dict[str, str]:
        return {
            "authorization": f"Bearer {tokens.mint(platform.keys, tokens.service_claims(name))}"
        }

    async with httpx.AsyncClient(base_url=platform.url("identity"), timeout=10) as identity:
        r = await identity.post("/sms-recipients", json=body, headers=service("notifications"))
        assert r.status_code == 200, r.text
        assert r.json()["recipients"] == [
            {"patient_id": patient, "status": "mobile", "mobile": mobile},
            {"patient_id": protected, "status": "protected", "mobile": None},
            {"patient_id": body["patient_ids"][2], "status": "unknown", "mobile": None},
        ]
        refused = {
            "no token": await identity.post("/sms-recipients", json=body),
            "another service": await identity.post(
                "/sms-recipients", json=body, headers=service("booking")
            ),
            **{
                role.value: await identity.post(
                    "/sms-recipients", json=body, headers=staff_headers(platform, role)
                )
                for role in Role
            },
        }
    assert {who: r.status_code for who, r in refused.items()} == {
        who: 401 if who == "no token" else 403 for who in refused
    }
    assert not [who for who, r in refused.items() if mobile in r.text]


# --- NT-3 ---------------------------------------------------------------------------------------


async def test_nt3_mass_cancellation_one_sms_per_patient_with_the_units_text(
    platform: Platform, producer: AIOKafkaProducer, db: Database, sms: StandIn
) -> None:
    anna_mobile, bo_mobile = new_mobile(), new_mobile()
    anna, bo = await patients_in_identity(platform, [anna_mobile, bo_mobile])
    day = datetime.now(UTC) + timedelta(days=4)
    bookings = [
        booking(anna, day, dose=1),
        booking(anna, day + timedelta(hours=1), dose=2),
        booking(anna, day + timedelta(hours=2), dose=None),
        booking(bo, day, dose=1),
    ]
    created_ids = await publish(producer, *bookings)
    for event_id in created_ids:
        await wait_status(db, f"{event_id}:confirmation", "sent")
    sms.clear()

    mass_id = f"mc-{uuid.uuid4()}"
    unit_text = f"Vaccinet har inte levererats. Vi ber om ursäkt, boka en ny tid på 1177.se. ({mass_id[-6:]})"
    await publish(
        producer,
        *(
            BookingCancelled(
                patient_id=b.patient_id,
                booking_id=b.booking_id,
                reference=b.reference,
                visit=b.visit,
                cancelled_by="mass_cancellation",
                mass_cancellation_id=mass_id,
                message=unit_text,
            )
            for b in bookings
        ),
    )
    for patient in (anna, bo):
        await wait_status(db, f"mass:{mass_id}:{patient}", "sent")

    async def all_cancelled() -> bool:
        ids = [b.booking_id for b in bookings]
        cancelled = booking_states.c.booking_id.in_(ids), booking_states.c.cancelled
        return await count(db, booking_states, *cancelled) == 4

    await eventually(all_cancelled)
    await asyncio.sleep(1)  # room for any extra message to show up
    received = sent_to(sms, anna_mobile) + sent_to(sms, bo_mobile)
    # One SMS per patient: the unit's words, and every appointment of theirs it cancelled.
    assert sorted(r["body"]["to"] for r in received) == sorted([anna_mobile, bo_mobile])
    for r in received:
        text = r["body"]["text"]
        assert text.startswith(unit_text)
        mine = [b for b in bookings if (b.patient_id == anna) == (r["body"]["to"] == anna_mobile)]
        assert sorted(b.reference for b in bookings if b.reference in text) == sorted(
            b.reference for b in mine
        )
        assert all(local_time(b.visit.start) in text for b in mine)
    reminders = [m for p in (anna, bo) for m in await messages_of(db, p) if m["kind"] == "reminder"]
    assert len(reminders) == 6
    assert {(m["status"], m["last_error"]) for m in reminders} == {
        ("withdrawn", "booking cancelled")
    }


# --- NT-4 ---------------------------------------------------------------------------------------


async def test_nt4_duplicate_delivery_of_an_event_sends_one_sms(
    platform: Platform, producer: AIOKafkaProducer, db: Database, sms: StandIn
) -> None:
    patient, mobile = await with_mobile(platform)
    start = datetime.now(UTC) + timedelta(days=2)
    event = booking(patient, start, dose=None)
    envelope, body = envelope_bytes(event)
    event_id = str(envelope.event_id)
    await send(producer, event, body, event_id)
    await send(producer, event, body, event_id)
    # A later event of the same patient (same partition): once it is handled, so are both copies.
    (marker,) = await publish(producer, booking(patient, start, dose=None))
    await wait_status(db, f"{marker}:confirmation", "sent")
    await wait_status(db, f"{event_id}:confirmation", "sent")

    # Even if the consumer's processed record were lost, the message id stands in the way.
    processed = (
        processed_events.c.consumer == "notifications",
        processed_events.c.event_id == envelope.event_id,
    )
    async with db.engine.begin() as conn:
        assert (await conn.execute(delete(processed_events).where(*processed))).rowcount == 1
    await send(producer, event, body, event_id)

    async def handled_again() -> bool:
        return await one(db, processed_events, *processed) is not None

    await eventually(handled_again)
    await asyncio.sleep(0.5)
    assert len(keyed(sms, f"{event_id}:confirmation")) == 1
    assert len(sent_to(sms, mobile)) == 2  # the event's and the marker's
    assert (await message(db, f"{event_id}:confirmation"))["attempts"] == 1


async def test_nt4_provider_failures_are_retried_and_delivered_once(
    platform: Platform, producer: AIOKafkaProducer, db: Database, sms: StandIn
) -> None:
    patient, _ = await with_mobile(platform)
    sms.behave(fail_next=3, fail_status=503)
    (event_id,) = await publish(
        producer, booking(patient, datetime.now(UTC) + timedelta(days=2), dose=None)
    )
    key = f"{event_id}:confirmation"
    sent = await wait_status(db, key, "sent", timeout=30)
    assert len(keyed(sms, key)) == 1  # delivered once
    tries = [r["status"] for r in keyed(sms, key, include_rejected=True)]
    # All three failures hit this message, unless another test's message (say a reminder
    # coming due) took one of them.
    others = len(sms.rejected(SMS_PATH)) - tries.count(503)
    assert tries == [503] * (3 - others) + [202]
    assert sent["attempts"] == len(tries) == 4 - others


async def test_nt4_provider_refusal_fails_at_once(
    platform: Platform, producer: AIOKafkaProducer, db: Database, sms: StandIn
) -> None:
    patient, _ = await with_mobile(platform)
    sms.behave(fail_next=1, fail_status=400)
    (event_id,) = await publish(
        producer, booking(patient, datetime.now(UTC) + timedelta(days=2), dose=None)
    )
    failed = await wait_status(db, f"{event_id}:confirmation", "failed")
    assert (failed["attempts"], failed["last_error"]) == (1, "provider answered 400")


BURST = 500


async def test_nt4_replica_killed_mid_burst_every_confirmation_sent_exactly_once(
    platform: Platform, producer: AIOKafkaProducer, db: Database, sms: StandIn
) -> None:
    # A second replica beside the platform's, with a short lease so its claims are taken
    # over quickly once it is killed.
    port = free_port()
    env = {
        **platform.service_env("notifications"),
        "VACCINERA_HTTP_PORT": str(port),
        "VACCINERA_OTEL_EXPORTER": "none",
        "VACCINERA_SENDER_LEASE_SECONDS": "5",
        "VACCINERA_SMS_TIMEOUT_SECONDS": "2",
        "VACCINERA_IDENTITY_TIMEOUT_SECONDS": "2",
    }
    replica = ManagedProcess(
        "notifications-1",
        [sys.executable, "-m", "vaccinera_notifications.main"],
        platform.base_dir / "logs" / "notifications-1.log",
        env=env,
    )
    replica.start()
    try:
        await asyncio.to_thread(wait_ready, replica, f"http://127.0.0.1:{port}", 60)
        numbers = [new_mobile() for _ in range(BURST)]
        patients = await patients_in_identity(platform, list(numbers))
        mobiles = dict(zip(patients, numbers, strict=True))

        # Slow sends, so the kill finds some of them in flight.
        sms.behave(delay_ms=50)
        start = datetime.now(UTC) + timedelta(days=5)
        events = [booking(p, start, dose=None) for p in patients]
        keys: list[str] = []
        began = time.monotonic()

        async def burst() -> None:
            for chunk in range(0, BURST, 50):
                for event in events[chunk : chunk + 50]:
                    envelope, body = envelope_bytes(event)
                    keys.append(f"{envelope.event_id}:confirmation")
                    await enqueue(producer, event, body, str(envelope.event_id))
                await producer.flush()
                await asyncio.sleep(0.2)

        publishing = asyncio.create_task(burst())

        async def some_sent() -> bool:
            return len(sms.received(SMS_PATH)) >= BURST // 10

        await eventually(some_sent, timeout=60, interval=0.2)
        assert replica.pid is not None
        os.kill(replica.pid, signal.SIGKILL)
        killed_after = len(sms.received(SMS_PATH))
        await publishing
        await asyncio.sleep(1)
        replica.start()  # the same replica, restarted
        await asyncio.to_thread(wait_ready, replica, f"http://127.0.0.1:{port}", 60)

        async def all_sent() -> bool:
            n = await count(
                db, messages, messages.c.message_id.in_(keys), messages.c.status == "sent"
            )
            return n == BURST

        await eventually(all_sent, timeout=120, interval=0.5)
        elapsed = time.monotonic() - began
    finally:
        replica.stop()
        sms.behave()

    records = [r for r in sms.received(SMS_PATH) if r["headers"].get("idempotency-key") in keys]
    first_sends = Counter(r["headers"]["idempotency-key"] for r in records if not r["replayed"])
    assert set(first_sends) == set(keys)  # none missing
    assert set(first_sends.values()) == {1}  # none accepted twice
    assert all(r["status"] == 202 for r in records)
    replays = sum(r["replayed"] for r in records)
    print(
        f"\n{BURST} confirmations in {elapsed:.1f}s; replica killed after {killed_after} "
        f"sends; {replays} provider replays of resent messages"
    )
    # A replay is a message the killed replica had sent but not yet recorded as sent. Only
    # its claims can be such, and a sender holds at most sender_concurrency claims at once (it
    # claims only as many as it has free send slots, and a slot frees once the outcome is
    # recorded): the messages in flight when it was killed bound the replays.
    in_flight = int(
        env.get(
            "VACCINERA_SENDER_CONCURRENCY",
            NotificationSettings.model_fields["sender_concurrency"].default,
        )
    )
    assert replays <= in_flight, f"{replays} replays, at most {in_flight} were in flight"
    assert {r["body"]["to"] for r in records} == set(mobiles.values())
    # Neither numbers nor texts in the replicas' logs.
    logs = "\n".join(p.read_text() for p in (platform.base_dir / "logs").glob("notifications*"))
    assert "lkommen till" not in logs
    assert not [m for m in mobiles.values() if m in logs or "0" + m[3:] in logs]
