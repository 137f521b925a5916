"""Identity's store on PostgreSQL: a patient and its events commit together or not at all,
optimistic concurrency on ``version``, one patient per identifier (ID-1, ID-4), the protection
purge in the same transaction as ProtectionChanged with the database refusing a protected
person's contact data (ID-3), and the append-only access log (ID-7)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from vaccinera_contracts.envelope import TypedEnvelope
from vaccinera_contracts.events import AccessRecorded
from vaccinera_contracts.identifiers import parse_identifier
from vaccinera_identity import handlers, tables
from vaccinera_identity.domain import Contact, Patient, PostalAddress, register_patient
from vaccinera_identity.store import AccessLogStore, PatientStore
from vaccinera_kit import migrations
from vaccinera_kit.database import OUTBOX, Database
from vaccinera_kit.errors import Conflict
from vaccinera_kit.outbox import Outbox
from vaccinera_kit.unit_of_work import UnitOfWorkFactory

if TYPE_CHECKING:
    from vaccinera_devstack.infra import Infrastructure

pytestmark = pytest.mark.infra

SCRIPTS = Path(tables.__file__).parent / "migrations"
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def db(infra: Infrastructure) -> AsyncIterator[Database]:
    database = Database(infra.database_url(f"identity-store-{uuid.uuid4().hex[:6]}"))
    await migrations.upgrade(database, SCRIPTS, tables.metadata)
    yield database
    await database.dispose()


@pytest.fixture(scope="module")
def uow(db: Database) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(db, Outbox(producer="identity"), on_commit=lambda: None)


def _pnr() -> str:
    """A distinct, valid 12-digit personnummer per call (the store never checks the register)."""
    serial = uuid.uuid4().int % 999 + 1
    day = uuid.uuid4().int % 28 + 1
    stem = f"19{uuid.uuid4().int % 100:02d}01{day:02d}{serial:03d}"
    return parse_identifier(_with_check_digit(stem)).value


def _with_check_digit(first_eleven: str) -> str:
    total = 0
    for i, char in enumerate(first_eleven[2:]):
        value = int(char) * (2 - i % 2)
        total += value - 9 if value > 9 else value
    return first_eleven + str(-total % 10)


def _new(identifier: str | None = None) -> Patient:
    return register_patient(
        parse_identifier(identifier or _pnr()),
        given_name="Tolvan",
        family_name="Tolvansson",
        now=NOW,
    )


async def _outbox(db: Database, patient_id: str) -> list[str]:
    async with db.connect() as conn:
        rows = await conn.execute(
            text(f"SELECT type FROM {OUTBOX} WHERE key = :key ORDER BY id"), {"key": patient_id}
        )
        return [r.type for r in rows]


async def _add(uow: UnitOfWorkFactory, patient: Patient) -> None:
    async with uow() as tx:
        assert await PatientStore(tx).add(patient)


async def test_a_patient_and_its_events_round_trip(db: Database, uow: UnitOfWorkFactory) -> None:
    patient = _new()
    await _add(uow, patient)
    assert patient.version == 1 and patient.events == []
    assert await _outbox(db, patient.patient_id) == ["identity.PatientRegistered"]

    patient.set_contact(
        Contact(
            mobile="+46701234567",
            email="tolvan@example.se",
            address=PostalAddress("Storgatan 1", "582 22", "Linköping"),
        )
    )
    patient.set_block("unit", "unit-motala", "SE-nurse", NOW)
    patient.record_consent("provider-x", NOW + timedelta(days=30), "SE-doctor", NOW)
    async with uow() as tx:
        await PatientStore(tx).save(patient)
    assert patient.version == 2

    async with uow() as tx:
        store = PatientStore(tx)
        by_id = await store.get(patient.patient_id)
        by_identifier = await store.by_identifier(patient.identifier.value)
    assert by_id == by_identifier == patient
    assert await _outbox(db, patient.patient_id) == [
        "identity.PatientRegistered",
        "identity.ContactDetailsChanged",
        "identity.BlocksChanged",
        "identity.ConsentsChanged",
    ]


async def test_id1_a_second_patient_with_the_same_identifier_is_not_added(
    db: Database, uow: UnitOfWorkFactory
) -> None:
    first = _new()
    await _add(uow, first)
    second = _new(first.identifier.value)
    async with uow() as tx:
        assert await PatientStore(tx).add(second) is False
    assert second.version == 0
    async with uow() as tx:
        assert await PatientStore(tx).get(second.patient_id) is None
    assert await _outbox(db, second.patient_id) == []  # no PatientRegistered for it


async def test_a_stale_save_is_refused_and_writes_nothing(
    db: Database, uow: UnitOfWorkFactory
) -> None:
    patient = _new()
    await _add(uow, patient)
    stale = dataclasses.replace(patient, events=[])
    patient.set_contact(Contact(mobile="+46701111111"))
    async with uow() as tx:
        await PatientStore(tx).save(patient)

    stale.set_contact(Contact(mobile="+46702222222"))
    with pytest.raises(Conflict) as raised:
        async with uow() as tx:
            await PatientStore(tx).save(stale)
    assert raised.value.code == "concurrent_change"
    async with uow() as tx:
        current = await PatientStore(tx).get(patient.patient_id)
    assert current is not None
    assert (current.contact.mobile, current.version) == ("+46701111111", 2)
    assert (await _outbox(db, patient.patient_id)).count("identity.ContactDetailsChanged") == 1


async def test_id4_an_identifier_taken_by_another_patient_is_a_conflict(
    db: Database, uow: UnitOfWorkFactory
) -> None:
    holder, mover = _new(), _new()
    await _add(uow, holder)
    await _add(uow, mover)
    mover.change_identifier(holder.identifier)
    with pytest.raises(Conflict) as raised:
        async with uow() as tx:
            await PatientStore(tx).save(mover)
    assert raised.value.code == "identifier_taken"
    assert "identity.IdentifierChanged" not in await _outbox(db, mover.patient_id)


async def test_id3_protection_purges_contact_in_the_same_transaction(
    db: Database, uow: UnitOfWorkFactory
) -> None:
    patient = _new()
    await _add(uow, patient)
    patient.set_contact(
        Contact(mobile="+46703333333", address=PostalAddress("Gränd 2", "582 22", "Linköping"))
    )
    async with uow() as tx:
        await PatientStore(tx).save(patient)

    patient.set_protection(True)

    async def save_then_fail() -> None:
        async with uow() as tx:
            await PatientStore(tx).save(patient)
            raise RuntimeError("the request failed after the save")

    with pytest.raises(RuntimeError):
        await save_then_fail()
    # Rolled back: neither the purge nor its event happened.
    async with db.connect() as conn:
        row = (
            await conn.execute(
                select(tables.patients.c.protected, tables.patients.c.mobile).where(
                    tables.patients.c.patient_id == patient.patient_id
                )
            )
        ).one()
    assert tuple(row) == (False, "+46703333333")
    assert "identity.ProtectionChanged" not in await _outbox(db, patient.patient_id)

    async with uow() as tx:
        store = PatientStore(tx)
        fresh = await store.get(patient.patient_id)
        assert fresh is not None
        fresh.set_protection(True)
        await store.save(fresh)
    async with db.connect() as conn:
        row = (
            await conn.execute(
                select(tables.patients).where(tables.patients.c.patient_id == patient.patient_id)
            )
        ).one()
    assert row.protected is True
    assert (row.mobile, row.email, row.address_street, row.address_city) == (None,) * 4
    assert (await _outbox(db, patient.patient_id))[-1] == "identity.ProtectionChanged"


async def test_id3_the_database_refuses_contact_data_of_a_protected_person(
    db: Database, uow: UnitOfWorkFactory
) -> None:
    patient = register_patient(
        parse_identifier(_pnr()), given_name="Kim", family_name="Hemlig", protected=True, now=NOW
    )
    await _add(uow, patient)
    with pytest.raises(IntegrityError, match="protected_has_no_contact"):
        async with db.engine.begin() as conn:
            await conn.execute(
                tables.patients.update()
                .where(tables.patients.c.patient_id == patient.patient_id)
                .values(mobile="+46704444444")
            )


async def test_reserve_numbers_are_never_handed_out_twice(uow: UnitOfWorkFactory) -> None:
    async with uow() as tx:
        first = await PatientStore(tx).next_reserve_sequence()

    async def draw_then_fail() -> None:
        async with uow() as tx:
            await PatientStore(tx).next_reserve_sequence()
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await draw_then_fail()
    async with uow() as tx:
        third = await PatientStore(tx).next_reserve_sequence()
    assert third > first + 1 > 1  # the rolled-back number stays unused


def _entry(
    patient_id: str, at: datetime, operation: str = "identity.get_patient"
) -> AccessRecorded:
    return AccessRecorded(
        patient_id=patient_id,
        service="identity",
        operation=operation,
        action="read",
        purpose="care",
        at=at,
        actor_kind="staff",
        actor="SE2321000000-nurse",
        hsa_id="SE2321000000-nurse",
        assignment_id="unit-centrum:nurse",
        role="nurse",
        unit_id="unit-centrum",
        care_provider_id="provider-region",
    )


class _Consumer:
    """Collects the handlers ``handlers.register`` declares."""

    def __init__(self) -> None:
        self.handlers: dict[type[Any], Any] = {}

    def on(self, model: type[Any]) -> Any:
        def register(handler: Any) -> Any:
            self.handlers[model] = handler
            return handler

        return register


async def test_id7_access_recorded_lands_once_and_lists_newest_first(
    db: Database, uow: UnitOfWorkFactory
) -> None:
    consumer = _Consumer()
    handlers.register(consumer)  # type: ignore[arg-type]
    handle = consumer.handlers[AccessRecorded]
    patient_id = f"p-{uuid.uuid4()}"
    envelopes = [
        TypedEnvelope[AccessRecorded](
            event_id=uuid.uuid4(),
            type=AccessRecorded.event_type,
            version=1,
            occurred_at=NOW,
            producer="booking",
            correlation_id="c",
            causation_id=None,
            data=_entry(patient_id, NOW + timedelta(minutes=i), f"op.{i}"),
        )
        for i in range(5)
    ]
    for envelope in [*envelopes, envelopes[2]]:  # the third is delivered twice
        async with uow() as tx:
            await handle(envelope, tx)

    async with db.connect() as conn:
        log = AccessLogStore(conn)
        entries = await log.for_patient(patient_id, 10)
        newest = await log.for_patient(patient_id, 2)
    assert [e.operation for e in entries] == [f"op.{i}" for i in (4, 3, 2, 1, 0)]
    assert entries[0] == envelopes[4].data
    assert [e.operation for e in newest] == ["op.4", "op.3"]


async def test_id7_the_access_log_is_append_only(db: Database, uow: UnitOfWorkFactory) -> None:
    patient_id = f"p-{uuid.uuid4()}"
    async with uow() as tx:
        await AccessLogStore(tx.conn).append(uuid.uuid4(), _entry(patient_id, NOW))
    for statement in (
        "UPDATE access_log SET actor = 'someone else' WHERE patient_id = :p",
        "DELETE FROM access_log WHERE patient_id = :p",
        "TRUNCATE access_log",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.engine.begin() as conn:
                await conn.execute(text(statement), {"p": patient_id})
    async with db.connect() as conn:
        count = await conn.scalar(
            select(func.count())
            .select_from(tables.access_log)
            .where(tables.access_log.c.patient_id == patient_id)
        )
    assert count == 1
