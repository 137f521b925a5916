"""RX-4 over the real PostgreSQL: the statistics for regional infection control from the events
the registry export keeps (identity's, the journal's, the inventory's), fed through its own
handlers, one event per transaction as the consumer runs them.

A seeded region of nine patients, three units of two care providers, two vaccines, doses given
here and one entered as history, a protected patient, one who becomes protected, a reserve
number, a patient whose registration never arrived, a redelivered dose; the register's count
(and an older one arriving late); four batches with deliveries, administrations (one just
inside the period by the Swedish day, one just outside), discards, a correction and an expired
batch. Every figure is checked against a count written out by hand below, not computed by the
statement under test. Then: doses and stock changing while the views are read, each answer one
snapshot."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from vaccinera_contracts.envelope import DomainEvent, TypedEnvelope
from vaccinera_contracts.events import (
    BatchCheckedIn,
    DoseAdministered,
    HistoricalDoseRecorded,
    IdentifierChanged,
    PatientRegistered,
    PopulationCounted,
    PopulationRow,
    ProtectionChanged,
    StockChanged,
    VaccineRenamed,
)
from vaccinera_contracts.identifiers import IdentifierKind, PatientIdentifier
from vaccinera_devstack.infra import Infrastructure
from vaccinera_kit import migrations
from vaccinera_kit.database import Database
from vaccinera_kit.unit_of_work import UnitOfWork
from vaccinera_registry_export import handlers, tables
from vaccinera_registry_export.domain.statistics import Days, local_day
from vaccinera_registry_export.store.statistics import Statistics, coverage_query, stock_query

pytestmark = pytest.mark.infra

SCRIPTS = Path(tables.__file__).parent / "migrations"
# The register's day: ages are whole years on it, not on the day the statistic is read.
AGES_ON = date(2026, 11, 27)
TODAY = local_day(datetime.now(UTC))
C, S = "vaccine-comirnaty", "vaccine-spikevax"
U1, U2, U3 = "unit-1", "unit-2", "unit-3"
A, B = "provider-a", "provider-b"  # U1 and U2 are A's, U3 is B's
LKPG, NKPG = "0580", "0581"


class Subscribers:
    """Stands in for the kit's consumer: collects what ``handlers.register`` subscribes."""

    transaction_size = 0

    def __init__(self) -> None:
        self.by_type: dict[str, Callable[[Any, UnitOfWork], Awaitable[None]]] = {}

    def on(self, model: type[DomainEvent]) -> Callable[[Any], Any]:
        def register(handler: Any) -> Any:
            self.by_type[model.event_type] = handler
            return handler

        return register


async def _database(infra: Infrastructure) -> Database:
    database = Database(
        infra.database_url(f"registry-export-stats-{uuid.uuid4().hex[:6]}"),
        pool_size=24,
        max_overflow=0,
    )
    await migrations.upgrade(database, SCRIPTS, tables.metadata)
    return database


@pytest.fixture(scope="module")
async def db(infra: Infrastructure) -> AsyncIterator[Database]:
    """The seeded region's database."""
    database = await _database(infra)
    yield database
    await database.dispose()


@pytest.fixture
async def empty_db(infra: Infrastructure) -> AsyncIterator[Database]:
    """A database of the test's own, for the views read while events commit."""
    database = await _database(infra)
    yield database
    await database.dispose()


@pytest.fixture(scope="module")
def subscribers() -> Subscribers:
    found = Subscribers()
    handlers.register(found)  # type: ignore[arg-type]
    assert found.transaction_size == 1  # one event per transaction, as the service runs them
    return found


async def handle(db: Database, subscribers: Subscribers, event: DomainEvent) -> None:
    """One event, in a transaction of its own, through the service's handler."""
    envelope = TypedEnvelope[Any](
        event_id=uuid.uuid4(),
        type=event.event_type,
        version=1,
        occurred_at=datetime.now(UTC),
        producer="test",
        correlation_id="c",
        causation_id=None,
        data=event,
    )
    async with db.engine.begin() as conn:
        await subscribers.by_type[event.event_type](envelope, UnitOfWork(conn))


def at(day: date, hh: int = 10, mm: int = 0) -> datetime:
    """A moment in UTC."""
    return datetime.combine(day, time(hh, mm), tzinfo=UTC)


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)


# --- the seeded region ---------------------------------------------------------------------------


def person(n: int) -> str:
    return f"p{n}"


def registered(
    n: int, born: date | None, municipality: str | None, *, protected: bool = False
) -> PatientRegistered:
    kind = IdentifierKind.PERSONNUMMER if born else IdentifierKind.RESERVNUMMER
    value = f"{born:%Y%m%d}{n:03d}0" if born else f"05R{n:09d}"
    return PatientRegistered(
        patient_id=person(n),
        identifier=PatientIdentifier(kind=kind, value=value),
        identifier_kind=kind,
        protected=protected,
        municipality_code=municipality,
        birth_date=born,
    )


def dose(n: int, vaccine: str, number: int, unit: str, provider: str, key: str = "") -> Any:
    return DoseAdministered(
        patient_id=person(n),
        administration_id=f"a-{n}-{vaccine}-{number}{key}",
        vaccine_id=vaccine,
        vaccine_name="Comirnaty" if vaccine == C else "Spikevax",
        dose_number=number,
        batch_id="b",
        batch_number="FA1",
        unit_id=unit,
        care_provider_id=provider,
        administered_at=at(days_ago(3)),
        vaccinator_hsa_id="SE-nurse",
    )


def count(rows: list[tuple[str | None, str, str, int]], at_: datetime) -> PopulationCounted:
    return PopulationCounted(
        counted_at=at_,
        ages_on=AGES_ON,
        rows=tuple(
            PopulationRow(municipality_code=c, municipality=m, age_band=b, persons=n)
            for c, m, b, n in rows
        ),
    )


POPULATION = [
    (LKPG, "Linköping", "18-29", 10),
    (LKPG, "Linköping", "65-69", 5),
    (LKPG, "Linköping", "70-79", 4),
    (NKPG, "Norrköping", "18-29", 8),
    (NKPG, "Norrköping", "60-64", 3),
    (NKPG, "Norrköping", "65-69", 6),
    (None, None, "30-39", 2),  # protected persons: no municipality (ID-3)
    (None, None, "65-69", 1),
]


def checked_in(
    batch: str, unit: str, provider: str, vaccine: str, when: datetime, doses: int, balance: int
) -> BatchCheckedIn:
    return BatchCheckedIn(
        batch_id=batch,
        unit_id=unit,
        care_provider_id=provider,
        vaccine_id=vaccine,
        delivery_id=f"d-{uuid.uuid4().hex[:6]}",
        vaccine_name="Comirnaty" if vaccine == C else "Spikevax",
        batch_number=batch.upper(),
        expires_on=EXPIRY[batch],
        doses=doses,
        balance=balance,
        checked_in_at=when,
        checked_in_by_hsa_id="SE-stock",
    )


def changed(
    batch: str,
    unit: str,
    provider: str,
    vaccine: str,
    change: str,
    delta: int,
    balance: int,
    when: datetime,
) -> StockChanged:
    return StockChanged(
        batch_id=batch,
        unit_id=unit,
        care_provider_id=provider,
        vaccine_id=vaccine,
        change=change,  # type: ignore[arg-type]
        delta=delta,
        balance=balance,
        at=when,
    )


EXPIRY = {
    "b1": TODAY + timedelta(days=60),
    "b2": TODAY - timedelta(days=1),
    "b3": TODAY + timedelta(days=100),
    "b4": TODAY - timedelta(days=1),
}


def seed() -> list[DomainEvent]:
    """The region's events, in an order the topics allow (one patient's, one batch's in
    order; across them any)."""
    events: list[DomainEvent] = [
        # An older count arrives first and is replaced; a count older still arrives last.
        count([(LKPG, "Linköping", "18-29", 999)], datetime(2026, 11, 1, tzinfo=UTC)),
        registered(1, date(2000, 1, 1), LKPG),  # 26 on AGES_ON: 18-29
        registered(2, date(1960, 6, 15), LKPG),  # 66: 65-69
        registered(3, date(1961, 11, 27), NKPG),  # 65 on the very day: 65-69
        registered(4, date(1961, 11, 28), NKPG),  # 64 on AGES_ON (65 today): 60-64
        # Protected: identity sends no municipality, and the handler keeps none anyway.
        registered(5, date(1990, 3, 3), LKPG, protected=True),  # 36: 30-39
        registered(6, None, None),  # a reserve number
        registered(7, date(1950, 5, 5), LKPG),  # 76: 70-79, becomes protected below
        # p8's registration never arrives.
        registered(9, date(1997, 2, 2), NKPG),  # 29: 18-29
        count(POPULATION, datetime(2026, 12, 1, tzinfo=UTC)),
        dose(1, C, 1, U1, A),
        dose(1, C, 2, U1, A),
        dose(1, C, 1, U1, A),  # redelivered under a new event id: nothing new
        dose(2, C, 1, U1, A),
        dose(2, C, 2, U2, A),
        dose(2, C, 3, U3, B),
        dose(3, C, 1, U3, B),
        dose(4, S, 1, U2, A),
        dose(5, C, 1, U1, A),
        dose(5, C, 2, U1, A),
        dose(6, C, 1, U2, A),
        dose(7, C, 1, U3, B),
        ProtectionChanged(patient_id=person(7), protected=True),
        dose(8, C, 1, U3, B),
        dose(8, C, 2, U3, B),
        HistoricalDoseRecorded(
            patient_id=person(9),
            historical_dose_id="h-9",
            vaccine_id=C,
            vaccine_name="Comirnaty",
            dose_number=1,
            given_on=date(2021, 6, 1),
            country="NO",
            comment="Given in Norway",
            unit_id=U1,
            care_provider_id=A,
            recorded_at=at(days_ago(3)),
            recorded_by_hsa_id="SE-nurse",
        ),
        dose(9, C, 2, U1, A),
        VaccineRenamed(
            vaccine_id=S,
            name="Spikevax XBB.1.5",
            previous_name="Spikevax",
            renamed_at=datetime(2026, 11, 30, tzinfo=UTC),
        ),
        count([(LKPG, "Linköping", "18-29", 1)], datetime(2026, 11, 15, tzinfo=UTC)),
    ]
    b1 = ("b1", U1, A, C)
    b2 = ("b2", U3, B, C)
    b3 = ("b3", U2, A, S)
    b4 = ("b4", U3, B, C)
    events += [
        checked_in(*b1, at(days_ago(40)), 100, 100),
        # 23:30 on day -30 in Sweden (22:30 UTC in winter): outside a period from day -29.
        changed(*b1, "administered", -1, 99, at(days_ago(30), 22, 30)),
        # 00:30 on day -29 in Sweden (23:30 UTC the day before): inside it.
        changed(*b1, "administered", -1, 98, at(days_ago(30), 23, 30)),
        changed(*b1, "administered", -1, 97, at(days_ago(10))),
        changed(*b1, "administered", -1, 96, at(days_ago(10), 11)),
        changed(*b1, "discarded", -3, 93, at(days_ago(5))),
        checked_in(*b1, at(days_ago(3)), 20, 113),
        changed(*b1, "corrected", 2, 115, at(days_ago(2))),
        changed(*b1, "administered", -1, 114, at(TODAY, 9)),
        checked_in(*b2, at(days_ago(20)), 50, 50),
        changed(*b2, "administered", -1, 49, at(days_ago(15))),
        changed(*b2, "discarded", -49, 0, at(days_ago(1))),  # used up: no longer in stock
        checked_in(*b3, at(days_ago(1)), 10, 10),
        changed(*b3, "administered", -1, 9, at(TODAY, 8)),
        checked_in(*b4, at(days_ago(60)), 30, 30),  # expired yesterday, untouched
    ]
    return events


@pytest.fixture(scope="module")
async def region(db: Database, subscribers: Subscribers) -> Database:
    for event in seed():
        await handle(db, subscribers, event)
    return db


async def coverage(
    db: Database,
    by: str,
    vaccine_id: str | None = None,
    dose_number: int | None = None,
    *,
    counted: bool = True,
) -> dict[tuple[str | None, str, int], tuple[int, int | None]]:
    """{(key, vaccine, dose): (persons, population)}."""
    async with db.connect() as conn:
        rows = (await conn.execute(coverage_query(by, vaccine_id, dose_number, TODAY))).all()
    if counted:  # the newest count's, whatever arrived after it
        assert all(r.counted_at == datetime(2026, 12, 1, tzinfo=UTC) for r in rows)
        assert all(r.ages_on == AGES_ON for r in rows)
    return {(r.key, r.vaccine_id, r.dose_number): (r.persons, r.population) for r in rows}


# --- coverage: where the dose was given ---------------------------------------------------------


async def test_rx4_coverage_per_unit_counts_persons_given_at_least_dose_n_there(
    region: Database,
) -> None:
    # U1: p1 (1, 2), p2 (1), p5 (1, 2), p9 (2; dose 1 was abroad). Each person once.
    # U2: p2 (2), p6 (1), and p4's Spikevax 1. U3: p2 (3), p3 (1), p7 (1), p8 (1, 2).
    assert await coverage(region, "unit") == {
        (U1, C, 1): (4, None),
        (U1, C, 2): (3, None),
        (U2, C, 1): (2, None),
        (U2, C, 2): (1, None),
        (U2, S, 1): (1, None),
        (U3, C, 1): (4, None),
        (U3, C, 2): (2, None),
        (U3, C, 3): (1, None),
    }


async def test_rx4_coverage_per_care_provider_counts_each_person_once(region: Database) -> None:
    # A (U1 + U2): p1, p2 (1 at U1 and 2 at U2: once), p5, p6, p9; Spikevax p4.
    assert await coverage(region, "care_provider") == {
        (A, C, 1): (5, None),
        (A, C, 2): (4, None),
        (A, S, 1): (1, None),
        (B, C, 1): (4, None),
        (B, C, 2): (2, None),
        (B, C, 3): (1, None),
    }


# --- coverage: the person's, against the register ------------------------------------------------


async def test_rx4_coverage_of_the_region_counts_history_and_the_register_only(
    region: Database,
) -> None:
    # In the register (a birth date): p1 (2), p2 (3), p3 (1), p5 (2), p7 (1), p9 (2: dose 2
    # here, dose 1 abroad); p4 Spikevax. Not placed: p6 (reserve number), p8 (no registration).
    # The register: 39 persons (the newest count; the older ones changed nothing).
    assert await coverage(region, "region") == {
        ("region", C, 1): (6, 39),
        ("region", C, 2): (4, 39),
        ("region", C, 3): (1, 39),
        ("region", S, 1): (1, 39),
        (None, C, 1): (2, None),
        (None, C, 2): (1, None),
    }


async def test_rx4_id3_coverage_per_municipality_never_places_a_protected_person(
    region: Database,
) -> None:
    # Linköping (19): p1 (2), p2 (3). Norrköping (17): p3 (1), p9 (2); Spikevax p4.
    # Not placed: p5 (protected), p7 (protected since), p6, p8.
    assert await coverage(region, "municipality") == {
        (LKPG, C, 1): (2, 19),
        (LKPG, C, 2): (2, 19),
        (LKPG, C, 3): (1, 19),
        (LKPG, S, 1): (0, 19),
        (NKPG, C, 1): (2, 17),
        (NKPG, C, 2): (1, 17),
        (NKPG, C, 3): (0, 17),
        (NKPG, S, 1): (1, 17),
        (None, C, 1): (4, None),
        (None, C, 2): (2, None),
    }
    async with region.connect() as conn:
        kept = (await conn.execute(select(tables.patients.c.municipality_code))).scalars().all()
    assert set(kept) == {LKPG, NKPG, None}
    async with region.connect() as conn:
        protected = await conn.scalars(
            select(tables.patients.c.municipality_code).where(
                tables.patients.c.patient_id.in_([person(5), person(7)])
            )
        )
        assert protected.all() == [None, None]


async def test_rx4_coverage_per_age_band_on_the_registers_day(region: Database) -> None:
    # 18-29 (18): p1 (2), p9 (2). 30-39 (2): p5 (2, protected: counted by age). 60-64 (3):
    # p4 Spikevax (64 on the register's day, 65 today). 65-69 (12): p2 (3), p3 (1).
    # 70-79 (4): p7 (1). Not placed: p6, p8.
    got = await coverage(region, "age_band", vaccine_id=C, dose_number=2)
    assert got == {
        ("18-29", C, 2): (2, 18),
        ("30-39", C, 2): (1, 2),
        ("60-64", C, 2): (0, 3),
        ("65-69", C, 2): (1, 12),
        ("70-79", C, 2): (0, 4),
        (None, C, 2): (1, None),
    }
    spikevax = await coverage(region, "age_band", vaccine_id=S)
    assert spikevax[("60-64", S, 1)] == (1, 3)
    assert spikevax[("65-69", S, 1)] == (0, 12)


async def test_rx4_filters_and_names(region: Database) -> None:
    async with region.connect() as conn:
        rows = (await conn.execute(coverage_query("municipality", C, 3, TODAY))).all()
    assert [(r.key, r.name, r.vaccine_name, r.persons, r.population) for r in rows] == [
        (LKPG, "Linköping", "Comirnaty", 1, 19),
        (NKPG, "Norrköping", "Comirnaty", 0, 17),
    ]
    async with region.connect() as conn:
        (spikevax,) = (await conn.execute(coverage_query("unit", S, None, TODAY))).all()
    # The catalogue's latest name (JR-1), not the one the dose carried.
    assert spikevax.vaccine_name == "Spikevax XBB.1.5"
    # Nobody has dose 4: the person levels still show the population, with 0.
    assert await coverage(region, "region", C, 4) == {("region", C, 4): (0, 39)}
    assert await coverage(region, "unit", C, 4) == {}


async def test_rx4_id4_a_new_identifier_brings_the_registers_facts(
    region: Database, subscribers: Subscribers
) -> None:
    """p6's reserve number becomes a personnummer of Norrköping: placed from then on."""
    await handle(
        region,
        subscribers,
        IdentifierChanged(
            patient_id=person(6),
            old=PatientIdentifier(kind=IdentifierKind.RESERVNUMMER, value="05R000000006"),
            new=PatientIdentifier(kind=IdentifierKind.PERSONNUMMER, value="198001010060"),
            municipality_code=NKPG,
            birth_date=date(1980, 1, 1),
        ),
    )
    try:
        got = await coverage(region, "municipality", C, 1)
        assert got[(NKPG, C, 1)] == (3, 17)
        assert got[(None, C, 1)] == (3, None)
    finally:  # back as seeded, for the other tests
        async with region.engine.begin() as conn:
            await Statistics(conn).resident(person(6), None, None)


# --- stock and consumption ------------------------------------------------------------------------


async def stock(db: Database, by: str, days: Days) -> dict[tuple[str, str], tuple[int, ...]]:
    """{(key, vaccine): (usable, expired, delivered, administered, discarded, corrected)}."""
    async with db.connect() as conn:
        rows = (await conn.execute(stock_query(by, days, TODAY))).all()
    return {
        (r.key, r.vaccine_id): (
            r.usable,
            r.expired,
            r.delivered,
            r.administered,
            r.discarded,
            r.corrected,
        )
        for r in rows
    }


MONTH = Days.of(None, None, TODAY)  # the default: day -29 to today


async def test_rx4_stock_and_consumption_per_unit_provider_and_region(region: Database) -> None:
    assert Days(days_ago(29), TODAY) == MONTH
    # U1 b1: 114 left. In the period: delivered 20 (day -3; the 100 on day -40 are before),
    # administered 4 (00:30 Swedish time on day -29, two on day -10, one today; not the one
    # at 23:30 on day -30), discarded 3, corrected +2.
    # U3 b2: used up (not in stock); delivered 50, administered 1, discarded 49. b4: 30 in a
    # batch past its expiry day, delivered on day -60 (before the period).
    # U2 b3 (Spikevax): 9 left, delivered 10, administered 1.
    u1 = (114, 0, 20, 4, 3, 2)
    u3 = (0, 30, 50, 1, 49, 0)
    u2 = (9, 0, 10, 1, 0, 0)
    assert await stock(region, "unit", MONTH) == {(U1, C): u1, (U2, S): u2, (U3, C): u3}
    assert await stock(region, "care_provider", MONTH) == {(A, C): u1, (A, S): u2, (B, C): u3}
    assert await stock(region, "region", MONTH) == {
        ("region", C): (114, 30, 70, 5, 52, 2),
        ("region", S): u2,
    }


async def test_rx4_stock_period_by_the_swedish_day(region: Database) -> None:
    # Day -30 alone: the administration at 23:30 Swedish time only.
    got = await stock(region, "unit", Days(days_ago(30), days_ago(30)))
    assert got[(U1, C)] == (114, 0, 0, 1, 0, 0)
    # Day -40 to -30: the first delivery and that administration.
    got = await stock(region, "unit", Days(days_ago(40), days_ago(30)))
    assert got[(U1, C)] == (114, 0, 100, 1, 0, 0)


def test_rx4_the_period_is_at_most_a_year_and_in_order() -> None:
    assert Days.of(None, date(2026, 3, 31), TODAY) == Days(date(2026, 3, 2), date(2026, 3, 31))
    with pytest.raises(Exception, match="ends before it starts"):
        Days.of(date(2026, 2, 1), date(2026, 1, 1), TODAY)
    with pytest.raises(Exception, match="at most 366 days"):
        Days.of(date(2025, 1, 1), date(2026, 1, 2), TODAY)


# --- correct while doses are being given ----------------------------------------------------------


async def test_rx4_the_stock_view_is_one_snapshot_while_administrations_commit(
    empty_db: Database, subscribers: Subscribers
) -> None:
    """20 batches of 10 doses at one unit, each emptied by 10 administrations (one
    transaction each, batches side by side) while the view is read: every answer has the
    doses delivered either still in stock or administered, never both or neither."""
    unit, batches, per_batch = f"unit-rush-{uuid.uuid4().hex[:6]}", 20, 10
    EXPIRY.update({f"r{i}": TODAY + timedelta(days=30) for i in range(batches)})
    for i in range(batches):
        await handle(
            empty_db,
            subscribers,
            checked_in(f"r{i}", unit, A, C, at(TODAY, 0), per_batch, per_batch),
        )
    done = asyncio.Event()

    async def empty(i: int) -> None:
        for left in range(per_batch - 1, -1, -1):
            event = changed(f"r{i}", unit, A, C, "administered", -1, left, at(TODAY, 1))
            await handle(empty_db, subscribers, event)

    seen: list[tuple[int, int]] = []

    async def read() -> None:
        while not done.is_set():
            got = await stock(empty_db, "unit", Days(TODAY, TODAY))
            usable, _, delivered, administered, _, _ = got[(unit, C)]
            assert delivered == batches * per_batch
            seen.append((usable, administered))
            await asyncio.sleep(0)

    reader = asyncio.create_task(read())
    await asyncio.gather(*(empty(i) for i in range(batches)))
    done.set()
    await reader
    assert len(seen) > 3
    assert all(usable + administered == batches * per_batch for usable, administered in seen)
    assert (await stock(empty_db, "unit", Days(TODAY, TODAY)))[(unit, C)][:4] == (0, 0, 200, 200)


async def test_rx4_coverage_counts_exactly_the_doses_committed(
    empty_db: Database, subscribers: Subscribers
) -> None:
    """150 patients given dose 1 at one unit at once, and each one's dose redelivered: the
    unit's count only ever grows, ends at 150, and a dose counts once."""
    unit = f"unit-rush-{uuid.uuid4().hex[:6]}"
    sem = asyncio.Semaphore(16)

    async def give(n: int) -> None:
        async with sem:
            event = dose(1000 + n, C, 1, unit, A)
            await handle(
                empty_db, subscribers, event.model_copy(update={"patient_id": f"{unit}-{n}"})
            )
            await handle(
                empty_db, subscribers, event.model_copy(update={"patient_id": f"{unit}-{n}"})
            )

    done = asyncio.Event()
    counts: list[int] = []

    async def read() -> None:
        while not done.is_set():
            got = await coverage(empty_db, "unit", C, 1, counted=False)
            counts.append(got.get((unit, C, 1), (0, None))[0])
            await asyncio.sleep(0)

    reader = asyncio.create_task(read())
    await asyncio.gather(*(give(n) for n in range(150)))
    done.set()
    await reader
    assert counts == sorted(counts) and counts[-1] <= 150
    assert (await coverage(empty_db, "unit", C, 1, counted=False))[(unit, C, 1)] == (150, None)


async def test_rx4_id3_a_dose_and_the_patients_events_at_once_never_leave_a_municipality(
    empty_db: Database, subscribers: Subscribers
) -> None:
    """The journal's and identity's topics are consumed side by side: for 40 patients a dose,
    a dose entered as history and the registration arrive at once, then a dose and the
    protection at once. Every dose ends with the patient's facts, and no dose of a protected
    patient with a municipality."""
    db = empty_db
    n = 40

    async def first(i: int) -> None:
        history = HistoricalDoseRecorded(
            patient_id=person(i),
            historical_dose_id=f"h-{i}",
            vaccine_id=C,
            vaccine_name="Comirnaty",
            dose_number=1,
            given_on=date(2021, 6, 1),
            unit_id=U1,
            care_provider_id=A,
            recorded_at=at(TODAY),
            recorded_by_hsa_id="SE-nurse",
        )
        await asyncio.gather(
            handle(db, subscribers, dose(i, C, 2, U1, A)),
            handle(db, subscribers, history),
            handle(db, subscribers, registered(i, date(1980, 1, 1), LKPG)),
        )

    async def then(i: int) -> None:
        await asyncio.gather(
            handle(db, subscribers, dose(i, C, 3, U1, A)),
            handle(db, subscribers, ProtectionChanged(patient_id=person(i), protected=True)),
        )

    await asyncio.gather(*(first(i) for i in range(n)))
    async with db.connect() as conn:
        for table in (tables.doses, tables.historical_doses):
            facts = (
                await conn.execute(select(table.c.municipality_code, table.c.birth_date))
            ).all()
            assert len(facts) == n and set(facts) == {(LKPG, date(1980, 1, 1))}, table.name
    await asyncio.gather(*(then(i) for i in range(n)))
    async with db.connect() as conn:
        for table in (tables.patients, tables.doses, tables.historical_doses):
            kept = (await conn.execute(select(table.c.municipality_code))).scalars().all()
            assert set(kept) == {None}, table.name
    # Still counted by age, and where given; by municipality only as not placed.
    assert (await coverage(db, "municipality", C, 3, counted=False)) == {(None, C, 3): (n, None)}
    assert (await coverage(db, "unit", C, 3, counted=False)) == {(U1, C, 3): (n, None)}
