"""The SMS sender's claims over the real PostgreSQL (NT-4, issue 7 item 5): concurrent senders
never hold the same message and together take all; a lease that ran out is taken over and its
old holder can record nothing; a commit wakes the senders at once, so a burst of 2,000 is sent
within a second of each commit, each message once, with two senders side by side."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from vaccinera_devstack.infra import Infrastructure
from vaccinera_devstack.testing import eventually
from vaccinera_kit import migrations
from vaccinera_kit.app import Service
from vaccinera_kit.database import Database
from vaccinera_notifications import domain, store, tables
from vaccinera_notifications.identity import RecipientsUnavailable
from vaccinera_notifications.main import create_service
from vaccinera_notifications.provider import Accepted, Outcome, SmsProvider
from vaccinera_notifications.sender import Sender
from vaccinera_notifications.settings import Settings

pytestmark = pytest.mark.infra

SCRIPTS = Path(tables.__file__).parent / "migrations"
LEASE = timedelta(seconds=30)
messages = tables.messages


@pytest.fixture
async def url(infra: Infrastructure) -> str:
    url = infra.database_url(f"notifications-claims-{uuid.uuid4().hex[:8]}")
    db = Database(url)
    await migrations.upgrade(db, SCRIPTS, tables.metadata)
    await db.dispose()
    return url


@pytest.fixture
async def db(url: str) -> AsyncIterator[Database]:
    database = Database(url)
    yield database
    await database.dispose()


def new_message(
    patient_id: str, *, due_at: datetime | None = None, kind: domain.Kind = "confirmation"
) -> domain.Message:
    now = datetime.now(UTC)
    event_id = str(uuid.uuid4())
    return domain.Message(
        message_id=domain.message_id(event_id, kind),
        event_id=event_id,
        patient_id=patient_id,
        booking_id=f"b-{uuid.uuid4()}",
        kind=kind,
        text="Välkommen till Vårdcentralen Centrum",
        due_at=due_at or now,
        created_at=now,
        visit_start=now + timedelta(days=1) if kind == "reminder" else None,
    )


async def add(db: Database, new: list[domain.Message]) -> None:
    async with db.engine.begin() as conn:
        await store.add_messages(conn, new, {}, datetime.now(UTC))


class StandInRecipients:
    """Identity's answer for the sender: a number for every patient."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    async def lookup(self, patient_ids: Sequence[str]) -> Mapping[str, domain.Contact]:
        self.asked.append(list(patient_ids))
        return {
            p: domain.Contact(mobile=f"+4670{i:07d}", protected=False)
            for i, p in enumerate(patient_ids)
        }

    async def close(self) -> None:
        pass


async def test_two_senders_claiming_at_once_never_share_a_message_and_take_all(
    url: str, db: Database
) -> None:
    due = [new_message(f"p-{i % 100}") for i in range(1000)]
    await add(db, due)
    senders = {"sender-a": Database(url), "sender-b": Database(url)}
    got: dict[str, list[str]] = {owner: [] for owner in senders}

    async def drain(owner: str, sender_db: Database) -> None:
        while True:
            async with sender_db.engine.begin() as conn:
                batch = await store.claim(conn, owner, LEASE, 25)
            if not batch:
                return
            got[owner].extend(c.message.message_id for c in batch)

    try:
        # Four claim loops per sender, each on its own connection: real lock contention.
        await asyncio.gather(
            *(drain(owner, sender_db) for owner, sender_db in senders.items() for _ in range(4))
        )
    finally:
        for sender_db in senders.values():
            await sender_db.dispose()

    claims = Counter(got["sender-a"] + got["sender-b"])
    assert set(claims.values()) == {1}  # none claimed twice
    assert set(claims) == {m.message_id for m in due}  # together all
    assert got["sender-a"] and got["sender-b"]
    async with db.connect() as conn:
        rows = (
            await conn.execute(
                select(messages.c.claimed_by, messages.c.status, messages.c.attempts, func.count())
                .group_by(messages.c.claimed_by, messages.c.status, messages.c.attempts)
                .order_by(messages.c.claimed_by)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("sender-a", "sending", 1, len(got["sender-a"])),
        ("sender-b", "sending", 1, len(got["sender-b"])),
    ]


async def test_an_expired_lease_is_taken_over_and_its_old_holder_records_nothing(
    db: Database,
) -> None:
    patient = "p-lease"
    message = new_message(patient)
    await add(db, [message])

    async with db.engine.begin() as conn:
        (first,) = await store.claim(conn, "sender-a", timedelta(milliseconds=300), 10)
        assert await store.claim(conn, "sender-b", LEASE, 10) == []  # held: not claimable
    assert first.attempt == 1

    await asyncio.sleep(0.5)  # sender-a "crashed": its lease runs out
    async with db.engine.begin() as conn:
        (second,) = await store.claim(conn, "sender-b", LEASE, 10)
    assert (second.message, second.attempt) == (message, 2)

    now = datetime.now(UTC)
    async with db.engine.begin() as conn:
        assert await store.record(conn, "sender-a", [store.sent(message.message_id, "x", now)]) == (
            set()
        )
        assert await store.record(conn, "sender-b", [store.sent(message.message_id, "y", now)]) == {
            message.message_id
        }
        row = (
            await conn.execute(select(messages).where(messages.c.message_id == message.message_id))
        ).one()
    assert (row.status, row.attempts, row.provider_message_id, row.claimed_by) == (
        "sent",
        2,
        "y",
        None,
    )


async def test_a_release_is_no_attempt_and_a_reminder_comes_with_its_booking(
    db: Database,
) -> None:
    reminder = new_message("p-reminder", kind="reminder")
    assert reminder.visit_start is not None
    async with db.engine.begin() as conn:
        await store.booking_scheduled(
            conn, reminder.booking_id, "p-reminder", reminder.visit_start, datetime.now(UTC)
        )
    await add(db, [reminder])

    async with db.engine.begin() as conn:
        (claimed,) = await store.claim(conn, "sender-a", LEASE, 10)
    assert claimed.booking == domain.BookingState(start=reminder.visit_start, cancelled=False)
    later = datetime.now(UTC) + timedelta(hours=1)
    async with db.engine.begin() as conn:
        await store.record(conn, "sender-a", [store.release(reminder.message_id, later)])
        assert await store.claim(conn, "sender-b", LEASE, 10) == []  # not due before `later`
        row = (
            await conn.execute(select(messages).where(messages.c.message_id == reminder.message_id))
        ).one()
    assert (row.status, row.attempts, row.next_attempt_at, row.claimed_by) == (
        "scheduled",
        0,
        later,
        None,
    )


class StandInProvider(SmsProvider):
    """Accepts every text after a short delay and remembers when each key was first sent."""

    def __init__(self, delay: float) -> None:
        super().__init__("http://127.0.0.1:9", sender="Vaccinera", timeout=1)
        self.delay = delay
        self.calls: Counter[str] = Counter()
        self.first_sent: dict[str, float] = {}

    async def send(
        self,
        *,
        to: str,
        text: str,
        reference: str,
        idempotency_key: str,
        headers: Mapping[str, str] | None = None,
    ) -> Outcome:
        await asyncio.sleep(self.delay)
        self.calls[idempotency_key] += 1
        self.first_sent.setdefault(idempotency_key, time.monotonic())
        return Accepted(f"sms-{idempotency_key}")


BURST = 2000


async def test_a_burst_of_2000_is_sent_within_a_second_of_each_commit_once_each(
    url: str, db: Database
) -> None:
    # The poll is far slower than the target: only the commit's NOTIFY can make it.
    settings = Settings(
        database_url=url, sender_poll_interval=30, sender_concurrency=32, otel_exporter="none"
    )
    services: list[Service] = [create_service(settings) for _ in range(2)]
    provider = StandInProvider(delay=0.01)
    recipients = StandInRecipients()
    senders = [Sender(s, settings, provider, recipients) for s in services]
    patients = [f"p-{i}" for i in range(BURST)]
    committed: dict[str, float] = {}
    for sender in senders:
        sender.start()
    try:
        await asyncio.sleep(0.5)  # listening
        # As the consumers store them during a rush: ~400 bookings/s, a few per transaction.
        for chunk in range(0, BURST, 8):
            batch = [new_message(p) for p in patients[chunk : chunk + 8]]
            await add(db, batch)
            at = time.monotonic()
            committed.update((m.message_id, at) for m in batch)
            await asyncio.sleep(0.02)

        async def all_sent() -> bool:
            async with db.connect() as conn:
                n = await conn.scalar(
                    select(func.count()).where(messages.c.status == "sent").select_from(messages)
                )
            return n == BURST

        await eventually(all_sent, timeout=30)
    finally:
        for sender in senders:
            await sender.stop()
        for service in services:
            await service.db.dispose()

    assert set(provider.calls) == set(committed)
    assert set(provider.calls.values()) == {1}
    # Identity was asked once per claimed batch, not once per message.
    assert sum(map(len, recipients.asked)) >= BURST > len(recipients.asked)
    latencies = sorted(provider.first_sent[key] - committed[key] for key in committed)
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    print(f"\ncommit → provider: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    assert p99 <= 1.0
    async with db.connect() as conn:
        owners = (
            await conn.execute(text("SELECT count(DISTINCT claimed_by) FROM messages"))
        ).scalar()
    assert owners == 0  # every claim released by its outcome


class UnavailableRecipients:
    """Identity down: no answer where to send."""

    def __init__(self) -> None:
        self.asked = 0

    async def lookup(self, patient_ids: Sequence[str]) -> Mapping[str, domain.Contact]:
        self.asked += 1
        raise RecipientsUnavailable("identity unreachable: ConnectError")

    async def close(self) -> None:
        pass


async def test_id3_without_identitys_answer_nothing_is_sent_and_no_attempt_is_counted(
    url: str, db: Database
) -> None:
    settings = Settings(
        database_url=url,
        sender_poll_interval=0.2,
        sender_backoff_seconds=30,
        otel_exporter="none",
    )
    service = create_service(settings)
    provider, recipients = StandInProvider(delay=0), UnavailableRecipients()
    sender = Sender(service, settings, provider, recipients)
    message = new_message("p-identity-down")
    sender.start()
    try:
        await add(db, [message])

        async def postponed() -> bool:
            async with db.connect() as conn:
                row = (
                    await conn.execute(
                        select(messages).where(messages.c.message_id == message.message_id)
                    )
                ).one()
            return row.last_error == "identity unavailable"

        await eventually(postponed, timeout=10)
    finally:
        await sender.stop()
        await service.db.dispose()
    async with db.connect() as conn:
        row = (
            await conn.execute(select(messages).where(messages.c.message_id == message.message_id))
        ).one()
    assert (row.status, row.attempts, row.claimed_by) == ("scheduled", 0, None)
    assert row.next_attempt_at > datetime.now(UTC) + timedelta(seconds=20)  # the backoff
    assert recipients.asked >= 1 and not provider.calls  # never sent without an answer
