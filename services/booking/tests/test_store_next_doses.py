"""BK-10 in the database's terms, over the real PostgreSQL: the projection of the journal's
doses keeps, per patient and dose number, the latest first day of the next dose, whatever order
the events arrive in and however often one is delivered; the migration history makes exactly
the table of ``tables.py``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest

from vaccinera_booking import tables
from vaccinera_booking.store import NextDoses
from vaccinera_devstack.infra import Infrastructure
from vaccinera_kit import migrations
from vaccinera_kit.database import Database

pytestmark = pytest.mark.infra

MIGRATIONS = Path(tables.__file__).parent / "migrations"
X = date(2026, 4, 1)


@pytest.fixture(scope="module")
async def db(infra: Infrastructure) -> AsyncIterator[Database]:
    database = Database(infra.database_url(f"booking-doses-{uuid.uuid4().hex[:6]}"))
    await migrations.upgrade(database, MIGRATIONS, tables.metadata)
    yield database
    await database.dispose()


async def record(db: Database, patient_id: str, dose: int, next_from: date | None) -> None:
    async with db.engine.begin() as conn:
        await NextDoses(conn).record(patient_id, dose, next_from)


async def next_from(db: Database, patient_id: str, dose: int) -> date | None:
    async with db.connect() as conn:
        return await NextDoses(conn).next_dose_from(patient_id, dose)


async def test_bk10_the_migrations_make_the_next_doses_table_of_tables_py(db: Database) -> None:
    assert await migrations.differences(db, tables.metadata) == []


async def test_bk10_a_dose_without_a_record_names_no_day(db: Database) -> None:
    assert await next_from(db, f"p-{uuid.uuid4()}", 1) is None


async def test_bk10_a_redelivered_dose_changes_nothing(db: Database) -> None:
    patient = f"p-{uuid.uuid4()}"
    for _ in range(3):
        await record(db, patient, 1, X)
    assert await next_from(db, patient, 1) == X
    assert await next_from(db, patient, 2) is None


async def test_bk10_of_two_doses_with_one_number_the_later_day_is_kept_in_any_order(
    db: Database,
) -> None:
    """Dose 1 given here, and a dose 1 given elsewhere entered later (or the other way round):
    the dose 2 waits for the interval after both."""
    for order in ([X, date(2026, 3, 1)], [date(2026, 3, 1), X]):
        patient = f"p-{uuid.uuid4()}"
        for day in order:
            await record(db, patient, 1, day)
        assert await next_from(db, patient, 1) == X


async def test_bk10_a_dose_naming_no_next_day_keeps_the_known_one(db: Database) -> None:
    patient = f"p-{uuid.uuid4()}"
    await record(db, patient, 1, None)
    assert await next_from(db, patient, 1) is None
    await record(db, patient, 1, X)
    await record(db, patient, 1, None)
    assert await next_from(db, patient, 1) == X


async def test_bk10_concurrent_doses_of_one_patient_keep_the_latest_day(db: Database) -> None:
    patient = f"p-{uuid.uuid4()}"
    days = [date(2026, 3, d) for d in range(1, 21)]
    await asyncio.gather(*(record(db, patient, 2, d) for d in days))
    assert await next_from(db, patient, 2) == max(days)
