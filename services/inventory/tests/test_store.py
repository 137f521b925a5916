"""The inventory's store and use cases over the real PostgreSQL (IN-2, IN-6): the database
refuses a negative balance; an administration is subtracted once whatever repeats it; many
administrations at once on batches sharing a low-stock level never deadlock, never go below
zero, and publish StockLow once per crossing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.events import DoseAdministered, StockLow, VaccineRenamed
from vaccinera_devstack.infra import Infrastructure
from vaccinera_inventory import tables
from vaccinera_inventory.domain import Batch, Delivery, LowStockLevel, Vaccine, local_day
from vaccinera_inventory.services import administrations, levels, vaccines
from vaccinera_inventory.store import Batches, Levels, Vaccines
from vaccinera_kit import migrations
from vaccinera_kit.database import Database
from vaccinera_kit.unit_of_work import UnitOfWork

pytestmark = pytest.mark.infra

SCRIPTS = Path(tables.__file__).parent / "migrations"
CONCURRENT = 40
UNIT, PROVIDER = "unit-centrum", "provider-region"


@pytest.fixture(scope="module")
async def db(infra: Infrastructure) -> AsyncIterator[Database]:
    database = Database(
        infra.database_url(f"inventory-store-{uuid.uuid4().hex[:6]}"),
        pool_size=CONCURRENT + 5,
        max_overflow=0,
    )
    await migrations.upgrade(database, SCRIPTS, tables.metadata)
    yield database
    await database.dispose()


async def in_uow(db: Database, work: object) -> list[DomainEvent]:
    """Run ``work(uow)`` in one transaction; the events it staged."""
    async with db.engine.begin() as conn:
        uow = UnitOfWork(conn)
        await work(uow)  # type: ignore[operator]
    return uow.events


async def new_batch(db: Database, vaccine: Vaccine, doses: int, unit: str = UNIT) -> Batch:
    now = datetime.now(UTC)
    today = local_day(now)
    batch = Batch.check_in(
        batch_id=f"b-{uuid.uuid4()}",
        delivery_id=f"d-{uuid.uuid4()}",
        unit_id=unit,
        care_provider_id=PROVIDER,
        delivery=Delivery(vaccine, uuid.uuid4().hex[:8], today + timedelta(days=30), doses),
        by="SE-stock",
        now=now,
        today=today,
    )

    async def add(uow: UnitOfWork) -> None:
        await Vaccines(uow.conn).known([vaccine])
        await Batches(uow).add(batch)

    await in_uow(db, add)
    return batch


def administered(batch: Batch, administration_id: str | None = None) -> DoseAdministered:
    return DoseAdministered(
        patient_id=f"p-{uuid.uuid4()}",
        administration_id=administration_id or f"a-{uuid.uuid4()}",
        vaccine_id=batch.vaccine.vaccine_id,
        vaccine_name=batch.vaccine.name,
        dose_number=1,
        batch_id=batch.batch_id,
        batch_number=batch.batch_number,
        unit_id=batch.unit_id,
        care_provider_id=batch.care_provider_id,
        administered_at=datetime.now(UTC),
        vaccinator_hsa_id="SE-nurse",
    )


async def balance(db: Database, batch_id: str) -> int:
    async with db.connect() as conn:
        return int(
            await conn.scalar(
                select(tables.batches.c.balance).where(tables.batches.c.batch_id == batch_id)
            )
        )


def vaccine() -> Vaccine:
    return Vaccine(f"v-{uuid.uuid4()}", "Comirnaty")


async def test_in2_the_database_refuses_a_negative_balance(db: Database) -> None:
    batch = await new_batch(db, vaccine(), 1)
    with pytest.raises(IntegrityError, match="ck_batches_balance_not_negative"):
        async with db.engine.begin() as conn:
            await conn.execute(
                update(tables.batches)
                .where(tables.batches.c.batch_id == batch.batch_id)
                .values(balance=-1)
            )


async def test_in2_one_administration_is_subtracted_once_whatever_repeats_it(
    db: Database,
) -> None:
    batch = await new_batch(db, vaccine(), 10)
    event = administered(batch)
    for _ in range(3):  # the same administration in three events (a replay, a republish)
        await in_uow(db, lambda uow: administrations.dose_administered(uow, event))
    assert await balance(db, batch.batch_id) == 9
    async with db.connect() as conn:
        moved = await conn.scalar(
            select(func.count())
            .select_from(tables.movements)
            .where(tables.movements.c.administration_id == event.administration_id)
        )
    assert moved == 1


async def test_in2_in6_concurrent_administrations_never_deadlock_never_go_negative_warn_once(
    db: Database,
) -> None:
    """Two batches of one vaccine at the unit share its low-stock level: administrations on
    both at once, each in its own transaction as the consumer runs them."""
    v = vaccine()
    first, second = await new_batch(db, v, 30), await new_batch(db, v, 30)

    async def set_level(uow: UnitOfWork) -> None:
        await Levels(uow.conn).put(LowStockLevel(UNIT, PROVIDER, v.vaccine_id, 20), "SE-stock")

    await in_uow(db, set_level)
    events = [administered(first) for _ in range(45)] + [administered(second) for _ in range(45)]
    staged = await asyncio.gather(
        *(in_uow(db, lambda uow, e=e: administrations.dose_administered(uow, e)) for e in events)
    )
    assert await balance(db, first.batch_id) == 0
    assert await balance(db, second.batch_id) == 0
    lows = [e for batch in staged for e in batch if isinstance(e, StockLow)]
    assert len(lows) == 1, lows
    assert lows[0].usable_doses == 20
    async with db.connect() as conn:
        discrepancies = await conn.scalar(
            select(func.count())
            .select_from(tables.administrations)
            .where(
                tables.administrations.c.batch_id.in_([first.batch_id, second.batch_id]),
                tables.administrations.c.discrepancy == "empty",
            )
        )
    assert discrepancies == 30


async def test_in6_a_check_in_above_the_level_rearms_the_warning(db: Database) -> None:
    v = vaccine()
    batch = await new_batch(db, v, 3)

    async def set_level(uow: UnitOfWork) -> None:
        await Levels(uow.conn).put(LowStockLevel(UNIT, PROVIDER, v.vaccine_id, 5), "SE-stock")
        await levels.assess(uow, UNIT, v, datetime.now(UTC))

    assert [type(e) for e in await in_uow(db, set_level)] == [StockLow]
    more = await new_batch(db, v, 10)
    rearm = await in_uow(db, lambda uow: levels.assess(uow, UNIT, v, datetime.now(UTC)))
    assert rearm == []
    async with db.connect() as conn:
        level = await Levels(conn).lock(UNIT, v.vaccine_id)
    assert level is not None and not level.low
    for _ in range(8):
        await in_uow(db, lambda uow: administrations.dose_administered(uow, administered(more)))
    assert await balance(db, batch.batch_id) == 3
    assert await balance(db, more.batch_id) == 2


async def test_jr1_a_rename_shows_on_batches_an_older_rename_does_not_win(db: Database) -> None:
    v = Vaccine(f"v-{uuid.uuid4()}", "COVID-19 Vaccine AstraZeneca")
    batch = await new_batch(db, v, 5)
    t = datetime(2021, 5, 9, tzinfo=UTC)
    for name, at in (("Vaxzevria", t), ("COVID-19 Vaccine AstraZeneca", t - timedelta(days=1))):
        event = VaccineRenamed(vaccine_id=v.vaccine_id, name=name, previous_name="", renamed_at=at)
        await in_uow(db, lambda uow, e=event: vaccines.vaccine_renamed(uow, e))
    async with db.connect() as conn:
        found = await Batches(conn).get(batch.batch_id)
    assert found is not None and found.vaccine.name == "Vaxzevria"
