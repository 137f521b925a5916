"""The journal's batches over the real PostgreSQL (IN-2, IN-6, JR-4): of many nurses taking
doses from one batch at once, exactly as many as it holds get one and the count never goes
below zero; an expired batch gives none; the inventory's discards and corrections adjust what
is available (never below zero), its administrations do not (the journal took those itself);
a second delivery of a batch adds to it.

That the migrations reach ``tables.py`` is checked for every service in
``tests/test_migrations.py``."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from vaccinera_contracts.events import BatchCheckedIn, StockChanged
from vaccinera_devstack.infra import Infrastructure
from vaccinera_journal import tables
from vaccinera_journal.domain import local_day
from vaccinera_journal.store import Batches
from vaccinera_kit import migrations
from vaccinera_kit.database import Database

pytestmark = pytest.mark.infra

SCRIPTS = Path(tables.__file__).parent / "migrations"
NURSES = 50
UNIT, PROVIDER, VACCINE = "unit-centrum", "provider-region", "vaccine-comirnaty"


@pytest.fixture(scope="module")
async def db(infra: Infrastructure) -> AsyncIterator[Database]:
    database = Database(
        infra.database_url(f"journal-store-{uuid.uuid4().hex[:6]}"),
        pool_size=NURSES + 5,
        max_overflow=0,
    )
    await migrations.upgrade(database, SCRIPTS, tables.metadata)
    yield database
    await database.dispose()


def today() -> date:
    return local_day(datetime.now(UTC))


def checked_in(
    batch_id: str, doses: int, expires_on: date | None = None, balance: int | None = None
) -> BatchCheckedIn:
    return BatchCheckedIn(
        batch_id=batch_id,
        unit_id=UNIT,
        care_provider_id=PROVIDER,
        vaccine_id=VACCINE,
        delivery_id=f"d-{uuid.uuid4()}",
        vaccine_name="Comirnaty",
        batch_number=f"FA{batch_id[-6:]}",
        expires_on=expires_on or today() + timedelta(days=30),
        doses=doses,
        balance=doses if balance is None else balance,
        checked_in_at=datetime.now(UTC),
        checked_in_by_hsa_id="SE-stock",
    )


def stock_changed(
    batch_id: str, change: Literal["administered", "discarded", "corrected"], delta: int
) -> StockChanged:
    return StockChanged(
        batch_id=batch_id,
        unit_id=UNIT,
        care_provider_id=PROVIDER,
        vaccine_id=VACCINE,
        change=change,
        delta=delta,
        balance=0,
        reason=None if change == "administered" else "Kylkedjan bruten",
        by_hsa_id=None if change == "administered" else "SE-stock",
        administration_id=f"a-{uuid.uuid4()}" if change == "administered" else None,
        at=datetime.now(UTC),
    )


async def new_batch(db: Database, doses: int, expires_on: date | None = None) -> str:
    batch_id = f"b-{uuid.uuid4().hex}"
    async with db.engine.begin() as conn:
        await Batches(conn).checked_in(checked_in(batch_id, doses, expires_on))
    return batch_id


async def available(db: Database, batch_id: str) -> int:
    async with db.connect() as conn:
        found = await Batches(conn).get(batch_id)
    assert found is not None
    return found.available


async def take_one(db: Database, batch_id: str, on: date | None = None) -> bool:
    """One nurse's administration: the dose taken in its own transaction, which stays open a
    moment after it (as the administration's insert and outbox would) so the others wait."""
    async with db.engine.begin() as conn:
        taken = await Batches(conn).take_one(batch_id, on or today())
        await asyncio.sleep(0.01)
    return taken


async def test_in2_in6_50_nurses_racing_for_30_doses_exactly_30_get_one(db: Database) -> None:
    batch_id = await new_batch(db, 30)
    results = await asyncio.gather(*(take_one(db, batch_id) for _ in range(NURSES)))
    assert sum(results) == 30
    assert await available(db, batch_id) == 0
    # The last dose gone, no one gets another.
    assert not await take_one(db, batch_id)
    assert await available(db, batch_id) == 0


async def test_in2_the_database_refuses_a_negative_count(db: Database) -> None:
    batch_id = await new_batch(db, 1)
    with pytest.raises(IntegrityError, match="available_not_negative"):
        async with db.engine.begin() as conn:
            await conn.execute(
                update(tables.batches)
                .where(tables.batches.c.batch_id == batch_id)
                .values(available=-1)
            )
    assert await available(db, batch_id) == 1


async def test_in6_take_one_refuses_an_expired_batch_usable_through_its_expiry_day(
    db: Database,
) -> None:
    expiring = await new_batch(db, 5, expires_on=today())
    assert await take_one(db, expiring, on=today())
    assert not await take_one(db, expiring, on=today() + timedelta(days=1))
    assert await available(db, expiring) == 4
    expired = await new_batch(db, 5, expires_on=today() - timedelta(days=1))
    assert not await take_one(db, expired)
    assert await available(db, expired) == 5


async def test_in6_take_one_of_an_unknown_batch_takes_nothing(db: Database) -> None:
    assert not await take_one(db, f"b-{uuid.uuid4().hex}")


async def test_in3_a_discard_or_correction_adjusts_available_never_below_zero(
    db: Database,
) -> None:
    batch_id = await new_batch(db, 10)
    steps: list[tuple[Literal["administered", "discarded", "corrected"], int, int]] = [
        ("discarded", -3, 7),
        ("corrected", 2, 9),
        ("corrected", -1, 8),
        # The journal gave these doses itself (take_one): not subtracted twice.
        ("administered", -1, 8),
        ("administered", -1, 8),
        # More than the journal has left (it already gave some of them): 0, not negative.
        ("discarded", -20, 0),
        ("corrected", 4, 4),
    ]
    for change, delta, expected in steps:
        async with db.engine.begin() as conn:
            await Batches(conn).changed(stock_changed(batch_id, change, delta))
        assert await available(db, batch_id) == expected, (change, delta)


async def test_in1_two_deliveries_of_a_batch_add_up(db: Database) -> None:
    batch_id = await new_batch(db, 100)
    async with db.engine.begin() as conn:
        await Batches(conn).checked_in(checked_in(batch_id, 50, balance=150))
    assert await available(db, batch_id) == 150
    async with db.connect() as conn:
        rows = (
            await conn.execute(select(tables.batches).where(tables.batches.c.batch_id == batch_id))
        ).all()
    assert len(rows) == 1
    (row,) = rows
    assert (row.unit_id, row.vaccine_id) == (UNIT, VACCINE)
