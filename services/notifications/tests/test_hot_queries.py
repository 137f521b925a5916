"""Notifications' hot statements reach their rows through an index over large tables (issue 7
items 5 and 7): the SMS claim, a patient's messages, a booking's reminders to withdraw, a
contact change waking messages, the projections' upserts and the sender's outcome recording,
each over ≥100k rows. The statements are the store's own objects with the parameters its functions pass, so
this checks what production runs."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from vaccinera_devstack.explain import explain, plan_nodes, sequential_scans
from vaccinera_devstack.infra import Infrastructure
from vaccinera_kit import migrations
from vaccinera_kit.database import Database
from vaccinera_notifications import store, tables

pytestmark = pytest.mark.infra

PATIENTS = 100_000
MESSAGES = 200_000
LEASE = timedelta(seconds=30)
SCRIPTS = Path(tables.__file__).parent / "migrations"


@pytest.fixture(scope="module")
async def db(infra: Infrastructure) -> AsyncIterator[Database]:
    database = Database(infra.database_url(f"notifications-hot-{uuid.uuid4().hex[:6]}"))
    await migrations.upgrade(database, SCRIPTS, tables.metadata)
    async with database.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO bookings (booking_id, patient_id, start, cancelled, at) "
                "SELECT 'b-' || i, 'p-' || i, now() + interval '1 day' * (i % 30), "
                "i % 10 = 0, now() FROM generate_series(1, :n) AS i"
            ),
            {"n": PATIENTS},
        )
        # Mostly history (sent); 1 % reminders waiting days ahead; a few due now; a few
        # claims of which some ran out (a sender that died) and some are held.
        await conn.execute(
            text(
                """
                INSERT INTO messages (message_id, event_id, patient_id, booking_id, kind, text,
                    due_at, created_at, visit_start, status, attempts, next_attempt_at,
                    claimed_by, claimed_until, sent_at, provider_message_id)
                SELECT 'm-' || i, gen_random_uuid(), 'p-' || (i % :p + 1), 'b-' || (i % :p + 1),
                    CASE WHEN i % 100 = 0 THEN 'reminder' ELSE 'confirmation' END,
                    'Välkommen till Vårdcentralen Centrum',
                    due, due - interval '1 day', due + interval '1 day', st,
                    CASE WHEN st = 'sent' THEN 1 ELSE 0 END, due,
                    CASE WHEN st = 'sending' THEN 'sender-old' END,
                    CASE WHEN st = 'sending' THEN now() + interval '1 minute' * (i % 3 - 1) END,
                    CASE WHEN st = 'sent' THEN due END,
                    CASE WHEN st = 'sent' THEN 'sms-' || i END
                FROM (
                    SELECT i,
                        CASE WHEN i % 100 = 0 THEN now() + interval '1 hour' * (i % 500)
                             ELSE now() - interval '1 minute' * (i % 100000) END AS due,
                        CASE WHEN i % 100 = 0 THEN 'scheduled'
                             WHEN i % 1000 = 1 THEN 'scheduled'
                             WHEN i % 2000 = 2 THEN 'sending'
                             ELSE 'sent' END AS st
                    FROM generate_series(1, :n) AS i
                ) AS fill
                """
            ),
            {"n": MESSAGES, "p": PATIENTS},
        )
    async with database.engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
    yield database
    await database.dispose()


async def test_sms_claim_finds_due_and_abandoned_messages_by_their_partial_indexes(
    db: Database,
) -> None:
    async with db.connect() as conn:
        for n in (1, 16, 256):
            params = {"owner": "sender-x", "lease": LEASE, "n": n}
            assert await sequential_scans(conn, store.CLAIM, params) == []
            plan = await explain(conn, store.CLAIM, params)
            used = {node["Index Name"] for node in plan_nodes(plan) if "Index Name" in node}
            assert {"ix_messages_due", "ix_messages_expired_leases"} <= used, used


async def test_a_patients_messages_come_from_the_patient_index(db: Database) -> None:
    async with db.connect() as conn:
        assert await sequential_scans(conn, store.PATIENT_MESSAGES, {"patient": "p-4711"}) == []
        at_unit = {"patient": "p-4711", "unit": "unit-centrum"}
        assert await sequential_scans(conn, store.PATIENT_MESSAGES_AT_UNIT, at_unit) == []


async def test_a_bookings_reminders_to_withdraw_come_from_the_booking_index(
    db: Database,
) -> None:
    params = {"booking": "b-4711", "reason": "booking moved", "keep_event": str(uuid.uuid4())}
    async with db.connect() as conn:
        assert await sequential_scans(conn, store.WITHDRAW_REMINDERS, params) == []


async def test_protection_withdraws_by_the_patient_index(db: Database) -> None:
    params = {"patient": "p-4711", "reason": "protected identity"}
    async with db.connect() as conn:
        assert await sequential_scans(conn, store.WITHDRAW_PATIENT, params) == []


async def test_a_contact_change_wakes_waiting_messages_by_the_patient_index(db: Database) -> None:
    async with db.connect() as conn:
        assert await sequential_scans(conn, store.CONTACT_ARRIVED, {"patient": "p-4711"}) == []


async def test_projection_upserts_find_their_row_by_its_key(db: Database) -> None:
    now = datetime.now(UTC)
    booking = {"booking_id": "b-4711", "patient_id": "p-4711", "start": now, "at": now}
    async with db.connect() as conn:
        for statement, params in (
            (store.BOOKING_SCHEDULED, {**booking, "cancelled": False}),
            (store.BOOKING_CANCELLED, {**booking, "start": None, "cancelled": True}),
        ):
            assert await sequential_scans(conn, statement, params) == []


async def test_recording_a_batch_of_outcomes_finds_each_message_by_its_key(db: Database) -> None:
    now = datetime.now(UTC)
    outcomes = [
        *(store.sent(f"m-{i}", f"sms-{i}", now) for i in range(1, 200)),
        *(store.retry(f"m-{i}", now, "provider answered 503") for i in range(200, 300)),
        *(store.release(f"m-{i}", now) for i in range(300, 400)),
        *(store.ended(f"m-{i}", "skipped", "no mobile number") for i in range(400, 500)),
    ]
    params = store.record_parameters("sender-x", outcomes)
    async with db.connect() as conn:
        assert await sequential_scans(conn, store.RECORD, params) == []
