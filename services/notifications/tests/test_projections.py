"""The store's projections and message rules over the real PostgreSQL: no contact data is kept
at all (ID-3: the sender asks identity); a late booking event never moves a booking back or
revives a cancelled one; a message exists once per trigger (NT-4); a contact change makes the
messages waiting for a number due at once."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from vaccinera_devstack.infra import Infrastructure
from vaccinera_kit import migrations
from vaccinera_kit.database import Database
from vaccinera_notifications import domain, store, tables

pytestmark = pytest.mark.infra

SCRIPTS = Path(tables.__file__).parent / "migrations"


@pytest.fixture
async def db(infra: Infrastructure) -> AsyncIterator[Database]:
    database = Database(infra.database_url(f"notifications-store-{uuid.uuid4().hex[:6]}"))
    await migrations.upgrade(database, SCRIPTS, tables.metadata)
    yield database
    await database.dispose()


async def test_booking_projection_keeps_the_latest_event_and_cancellation_wins(
    db: Database,
) -> None:
    booking_id, start = f"b-{uuid.uuid4()}", datetime(2026, 3, 3, 13, 30, tzinfo=UTC)
    t0 = datetime.now(UTC)

    async def state() -> tuple[datetime | None, bool]:
        async with db.connect() as conn:
            row = (
                await conn.execute(
                    select(tables.bookings.c.start, tables.bookings.c.cancelled).where(
                        tables.bookings.c.booking_id == booking_id
                    )
                )
            ).one()
        return row.start, row.cancelled

    async with db.engine.begin() as conn:
        await store.booking_scheduled(conn, booking_id, "p-1", start, t0)
        moved = start + timedelta(days=1)
        await store.booking_scheduled(conn, booking_id, "p-1", moved, t0 + timedelta(seconds=1))
        # A late copy of the first event does not move it back.
        await store.booking_scheduled(conn, booking_id, "p-1", start, t0)
    assert await state() == (moved, False)

    async with db.engine.begin() as conn:
        await store.booking_cancelled(conn, booking_id, "p-1", t0 + timedelta(seconds=2))
        await store.booking_scheduled(conn, booking_id, "p-1", start, t0 + timedelta(seconds=3))
    assert await state() == (moved, True)

    never_seen = f"b-{uuid.uuid4()}"
    async with db.engine.begin() as conn:
        await store.booking_cancelled(conn, never_seen, "p-1", t0)
        row = (
            await conn.execute(
                select(tables.bookings.c.start, tables.bookings.c.cancelled).where(
                    tables.bookings.c.booking_id == never_seen
                )
            )
        ).one()
    assert (row.start, row.cancelled) == (None, True)


async def test_nt4_a_message_exists_once_per_trigger(db: Database) -> None:
    now = datetime.now(UTC)
    event_id = str(uuid.uuid4())
    message = domain.Message(
        message_id=domain.message_id(event_id, "confirmation"),
        event_id=event_id,
        patient_id=f"p-{uuid.uuid4()}",
        booking_id=f"b-{uuid.uuid4()}",
        kind="confirmation",
        text="Välkommen",
        due_at=now,
        created_at=now,
        unit_id="unit-centrum",
    )
    async with db.engine.begin() as conn:
        assert await store.add_messages(conn, [message], {"traceparent": "00-ab-cd-01"}, now) == [
            message
        ]
    async with db.engine.begin() as conn:
        assert await store.add_messages(conn, [message], {}, now) == []
        rows = await store.patient_messages(conn, message.patient_id, unit_id=None)
    assert [(r.message_id, r.unit_id, r.status, r.attempts) for r in rows] == [
        (message.message_id, "unit-centrum", "scheduled", 0)
    ]


async def test_ac5_staff_see_the_messages_of_their_unit_only(db: Database) -> None:
    now, patient = datetime.now(UTC), f"p-{uuid.uuid4()}"
    here, there = (
        domain.Message(
            message_id=f"{uuid.uuid4()}:confirmation",
            event_id=str(uuid.uuid4()),
            patient_id=patient,
            booking_id=f"b-{uuid.uuid4()}",
            kind="confirmation",
            text="Välkommen",
            due_at=now,
            created_at=now,
            unit_id=unit,
        )
        for unit in ("unit-centrum", "unit-motala")
    )
    async with db.engine.begin() as conn:
        await store.add_messages(conn, [here, there], {}, now)
    async with db.connect() as conn:
        at_centrum = await store.patient_messages(conn, patient, unit_id="unit-centrum")
        at_other = await store.patient_messages(conn, patient, unit_id="unit-elsewhere")
        everything = await store.patient_messages(conn, patient, unit_id=None)
    assert [r.message_id for r in at_centrum] == [here.message_id]
    assert at_other == []
    assert {r.message_id for r in everything} == {here.message_id, there.message_id}


async def test_a_number_arriving_makes_the_messages_waiting_for_it_due(db: Database) -> None:
    patient, now = f"p-{uuid.uuid4()}", datetime.now(UTC)
    event_id = str(uuid.uuid4())
    message = domain.Message(
        message_id=domain.message_id(event_id, "confirmation"),
        event_id=event_id,
        patient_id=patient,
        booking_id=f"b-{uuid.uuid4()}",
        kind="confirmation",
        text="Välkommen",
        due_at=now,
        created_at=now,
    )
    async with db.engine.begin() as conn:
        await store.add_messages(conn, [message], {}, now)
    async with db.engine.begin() as conn:
        (first,) = await store.claim(conn, "sender-a", timedelta(seconds=30), 10)
        assert first.attempt == 1
        # Identity knew no number yet: the sender waits for it a little (domain.decide → Wait).
        await store.record(
            conn, "sender-a", [store.release(message.message_id, now + timedelta(seconds=5))]
        )
        assert await store.claim(conn, "sender-a", timedelta(seconds=30), 10) == []
    async with db.engine.begin() as conn:
        # ContactDetailsChanged (no number in it): the sender asks identity again at once.
        assert await store.contact_arrived(conn, patient) == 1
    async with db.engine.begin() as conn:
        (again,) = await store.claim(conn, "sender-a", timedelta(seconds=30), 10)
    assert (again.message.message_id, again.attempt) == (message.message_id, 1)


async def test_id3_no_contact_data_is_kept(db: Database) -> None:
    # Revision 0004 dropped the projection: no table of this service has a place for a number.
    async with db.connect() as conn:
        columns = (
            await conn.execute(
                text(
                    "SELECT table_name, column_name FROM information_schema.columns "
                    "WHERE table_schema = 'public'"
                )
            )
        ).all()
    assert columns
    assert not [c for c in columns if c.table_name == "contacts"]
    assert not [c for c in columns if re.search("mobile|phone|email|address", c.column_name)]
