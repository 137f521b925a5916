"""BK-1 and BK-4 in the database's terms, over the real PostgreSQL: slots of one column never
overlap and a slot holds at most one active booking, whatever runs concurrently; a rebook onto a
taken slot changes nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from vaccinera_booking import domain, tables
from vaccinera_booking.domain import (
    Booking,
    Patient,
    ResourceColumns,
    Slot,
    TimeBook,
    VisitType,
)
from vaccinera_booking.store import (
    NO_OVERLAPPING_SLOTS,
    Bookings,
    Patients,
    Slots,
    StaleBooking,
    TimeBooks,
)
from vaccinera_contracts.identifiers import IdentifierKind
from vaccinera_devstack.infra import Infrastructure
from vaccinera_kit import migrations
from vaccinera_kit.database import Database, is_unique_violation
from vaccinera_kit.sealed import Sealer, generate_pem_pair
from vaccinera_kit.unit_of_work import UnitOfWork

# Notifications' public key: booking seals each manage code to it (issue 9).
SEALER = Sealer(generate_pem_pair(bits=2048)[1])
pytestmark = pytest.mark.infra

MIGRATIONS = Path(tables.__file__).parent / "migrations"
CONCURRENT = 50


@pytest.fixture(scope="module")
async def db(infra: Infrastructure) -> AsyncIterator[Database]:
    database = Database(
        infra.database_url(f"booking-t{uuid.uuid4().hex[:8]}"),
        pool_size=CONCURRENT + 5,
        max_overflow=0,
    )
    await migrations.upgrade(database, MIGRATIONS, tables.metadata)
    yield database
    await database.dispose()


def _day() -> date:
    return date.today() + timedelta(days=30)


def _opening(
    first: time, last: time, minutes: int, columns: Sequence[int]
) -> list[domain.SlotSpec]:
    return domain.open_slots(
        domain.Opening("nurse", columns, _day(), _day(), frozenset(range(7)), first, last, minutes),
        3,
        datetime.now(UTC),
    )


async def _time_book(db: Database) -> tuple[TimeBook, VisitType]:
    """A time book with three nurse columns and one visit type."""
    book = TimeBook.create(
        str(uuid.uuid4()), "unit-test", "Test", "Test", [ResourceColumns("nurse", 3)]
    )
    visit_type = book.add_visit_type(
        VisitType(str(uuid.uuid4()), "Covid-19 dos 1", "Covid-19", "nurse", 5, dose=1)
    )
    async with db.engine.begin() as conn:
        books = TimeBooks(conn)
        await books.add(book)
        await books.add_visit_type(book.time_book_id, visit_type)
    return book, visit_type


async def _patients(db: Database, n: int) -> list[Patient]:
    patients = [
        Patient(str(uuid.uuid4()), IdentifierKind.RESERVNUMMER, f"05R{i:09d}", False)
        for i in range(n)
    ]
    async with db.engine.begin() as conn:
        for patient in patients:
            await Patients(conn).record(patient)
    return patients


async def _open(db: Database, time_book_id: str, specs: Sequence[domain.SlotSpec]) -> int:
    async with db.engine.begin() as conn:
        return await Slots(conn).open(time_book_id, specs)


async def _overlapping_pairs(db: Database, time_book_id: str) -> int:
    async with db.connect() as conn:
        count = await conn.scalar(
            text(
                "SELECT count(*) FROM slots a JOIN slots b ON a.slot_id < b.slot_id "
                "AND a.time_book_id = b.time_book_id AND a.resource = b.resource "
                'AND a."column" = b."column" '
                'AND tstzrange(a.start, a."end") && tstzrange(b.start, b."end") '
                "WHERE a.time_book_id = :tb"
            ),
            {"tb": time_book_id},
        )
    return int(count or 0)


def _booking(book: TimeBook, visit_type: VisitType, patient: Patient, slot: Slot) -> Booking:
    return Booking.book(
        booking_id=str(uuid.uuid4()),
        patient=patient,
        time_book=book,
        visit_type=visit_type,
        slot=slot,
        booked_by="staff",
        now=datetime.now(UTC),
        sealer=SEALER,
    )


async def _slots_at(
    db: Database, book: TimeBook, visit_type: VisitType, hh: int, mm: int = 0
) -> list[Slot]:
    start = datetime.combine(_day(), time(hh, mm), domain.TZ).astimezone(UTC)
    async with db.connect() as conn:
        found, deleted = await Slots(conn).candidates(
            book.time_book_id, "nurse", start, 3, visit_type.visit_type_id
        )
    assert deleted is False
    return found


async def test_bk1_bk4_overlapping_openings_in_flight_together_one_wins(db: Database) -> None:
    """The second opening waits on the first's uncommitted slots, then is refused whole."""
    book, _ = await _time_book(db)
    time_book_id = book.time_book_id
    first = _opening(time(8), time(10), 5, [1, 2, 3])
    second = _opening(time(9, 30), time(11), 10, [3])
    async with db.engine.begin() as conn_a:
        await Slots(conn_a).open(time_book_id, first)
        racing = asyncio.create_task(_open(db, time_book_id, second))
        await asyncio.sleep(0.5)
        assert not racing.done()  # blocked by the exclusion constraint, not yet decided
    with pytest.raises(IntegrityError) as refused:
        await racing
    assert is_unique_violation(refused.value, NO_OVERLAPPING_SLOTS)
    async with db.connect() as conn:
        count = await conn.scalar(
            select(func.count())
            .select_from(tables.slots)
            .where(tables.slots.c.time_book_id == time_book_id)
        )
    assert count == len(first)  # nothing of the second opening
    assert await _overlapping_pairs(db, time_book_id) == 0


async def test_bk1_bk4_concurrent_overlapping_openings_exactly_one_succeeds(db: Database) -> None:
    book, _ = await _time_book(db)
    time_book_id = book.time_book_id
    openings = [
        _opening(time(8, 0), time(12, 0), 5, [1, 2, 3]),
        _opening(time(8, 0), time(12, 0), 10, [1, 2, 3]),
        _opening(time(8, 5), time(9, 0), 15, [2]),
        _opening(time(11, 0), time(13, 0), 20, [1, 3]),
        _opening(time(7, 0), time(8, 30), 30, [1, 2, 3]),
    ]
    results = await asyncio.gather(
        *(_open(db, time_book_id, o) for o in openings), return_exceptions=True
    )
    won = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1, results
    assert all(is_unique_violation(r, NO_OVERLAPPING_SLOTS) for r in refused), refused
    assert await _overlapping_pairs(db, time_book_id) == 0


async def test_bk4_fifty_concurrent_bookings_of_one_slot_exactly_one_booked(db: Database) -> None:
    book, visit_type = await _time_book(db)
    await _open(db, book.time_book_id, _opening(time(9), time(10), 5, [1]))
    (slot,) = await _slots_at(db, book, visit_type, 9)
    patients = await _patients(db, CONCURRENT)
    start = asyncio.Event()

    async def take(patient: Patient) -> bool:
        await start.wait()
        async with db.engine.begin() as conn:
            return await Bookings(UnitOfWork(conn)).add(_booking(book, visit_type, patient, slot))

    tasks = [asyncio.create_task(take(p)) for p in patients]
    await asyncio.sleep(0.1)
    start.set()
    results = await asyncio.gather(*tasks)
    assert results.count(True) == 1
    async with db.connect() as conn:
        active = await conn.scalar(
            select(func.count())
            .select_from(tables.bookings)
            .where(tables.bookings.c.slot_id == slot.slot_id)
        )
        assert active == 1
        assert await Bookings(conn).slot_taken(slot.slot_id)
    # The candidates now say the slot is taken: a booking moves on to the next column.
    (again,) = await _slots_at(db, book, visit_type, 9)
    assert again.taken is True


async def test_bk4_a_cancelled_booking_frees_its_slot(db: Database) -> None:
    book, visit_type = await _time_book(db)
    await _open(db, book.time_book_id, _opening(time(9), time(10), 5, [1]))
    (slot,) = await _slots_at(db, book, visit_type, 9)
    first, second = await _patients(db, 2)
    async with db.engine.begin() as conn:
        bookings = Bookings(UnitOfWork(conn))
        booking = _booking(book, visit_type, first, slot)
        assert await bookings.add(booking)
        assert not await bookings.add(_booking(book, visit_type, second, slot))
        booking.cancel(book, "staff", datetime.now(UTC))
        await bookings.save(booking)
        assert await bookings.add(_booking(book, visit_type, second, slot))


async def test_bk4_rebook_onto_a_taken_slot_fails_and_leaves_the_booking_intact(
    db: Database,
) -> None:
    book, visit_type = await _time_book(db)
    await _open(db, book.time_book_id, _opening(time(9), time(10), 5, [1]))
    (nine,) = await _slots_at(db, book, visit_type, 9)
    (ten_past,) = await _slots_at(db, book, visit_type, 9, 10)
    mine, theirs = await _patients(db, 2)
    booking = _booking(book, visit_type, mine, nine)
    other = _booking(book, visit_type, theirs, ten_past)
    async with db.engine.begin() as conn:
        bookings = Bookings(UnitOfWork(conn))
        assert await bookings.add(booking)
        assert await bookings.add(other)

    async with db.engine.begin() as conn:
        bookings = Bookings(UnitOfWork(conn))
        moved = await bookings.move(
            booking, booking.move_to(book, visit_type, ten_past, "staff", datetime.now(UTC))
        )
        assert moved is False
        # The unit of work goes on after the refusal (the savepoint took only the move back).
        assert await bookings.slot_taken(ten_past.slot_id)
    async with db.connect() as conn:
        kept = await Bookings(conn).get(booking.booking_id)
        theirs_kept = await Bookings(conn).get(other.booking_id)
    assert kept is not None and theirs_kept is not None
    assert (kept.slot_id, kept.start, kept.status, kept.version) == (
        nine.slot_id,
        nine.start,
        "booked",
        1,
    )
    assert (theirs_kept.slot_id, theirs_kept.status) == (ten_past.slot_id, "booked")

    # A rebook of a booking read before someone else changed it is refused as stale.
    async with db.engine.begin() as conn:
        meanwhile = await Bookings(conn).get(booking.booking_id)
        assert meanwhile is not None
        meanwhile.register_arrival(datetime.now(UTC))
        await Bookings(UnitOfWork(conn)).save(meanwhile)
    with pytest.raises(StaleBooking):
        async with db.engine.begin() as conn:
            await Bookings(UnitOfWork(conn)).move(
                booking, booking.move_to(book, visit_type, nine, "staff", datetime.now(UTC))
            )


async def test_bk4_concurrent_rebooks_onto_one_free_slot_exactly_one_moves(db: Database) -> None:
    book, visit_type = await _time_book(db)
    time_book_id = book.time_book_id
    await _open(db, time_book_id, _opening(time(9), time(12), 5, [1]))
    slots = [
        (await _slots_at(db, book, visit_type, 9 + i // 12, 5 * (i % 12)))[0] for i in range(21)
    ]
    target, sources = slots[0], slots[1:]
    patients = await _patients(db, len(sources))
    rows = [_booking(book, visit_type, p, s) for p, s in zip(patients, sources, strict=True)]
    async with db.engine.begin() as conn:
        bookings = Bookings(UnitOfWork(conn))
        for row in rows:
            assert await bookings.add(row)

    async def move(row: Booking) -> bool:
        async with db.engine.begin() as conn:
            return await Bookings(UnitOfWork(conn)).move(
                row, row.move_to(book, visit_type, target, "staff", datetime.now(UTC))
            )

    results = await asyncio.gather(*(move(r) for r in rows))
    assert results.count(True) == 1
    async with db.connect() as conn:
        holders = await conn.scalar(
            select(func.count())
            .select_from(tables.bookings)
            .where(
                tables.bookings.c.slot_id == target.slot_id, tables.bookings.c.status == "booked"
            )
        )
        booked = await conn.scalar(
            select(func.count())
            .select_from(tables.bookings)
            .where(
                tables.bookings.c.time_book_id == time_book_id, tables.bookings.c.status == "booked"
            )
        )
    assert (holders, booked) == (1, len(rows))  # the losers still hold their old slots
