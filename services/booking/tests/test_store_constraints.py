"""BK-1 and BK-4 in the database's terms, over the real PostgreSQL: slots of one column never
overlap and a slot holds at most one active booking, whatever runs concurrently; a rebook onto a
taken slot changes nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from vaccinera_booking import domain, tables
from vaccinera_booking.store import (
    NO_OVERLAPPING_SLOTS,
    Bookings,
    Patients,
    Slots,
    StaleBooking,
    TimeBooks,
)
from vaccinera_devstack.infra import Infrastructure
from vaccinera_kit import migrations
from vaccinera_kit.database import Database, is_unique_violation

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


async def _time_book(db: Database) -> tuple[str, str]:
    """A time book with three nurse columns and one visit type."""
    time_book_id, visit_type_id = str(uuid.uuid4()), str(uuid.uuid4())
    async with db.engine.begin() as conn:
        books = TimeBooks(conn)
        await books.add(
            {
                "time_book_id": time_book_id,
                "unit_id": "unit-test",
                "unit_name": "Test",
                "name": "Test",
                "version": 1,
            },
            [{"resource": "nurse", "columns": 3}],
        )
        await books.add_visit_type(
            time_book_id,
            {
                "visit_type_id": visit_type_id,
                "name": "Covid-19 dos 1",
                "category": "Covid-19",
                "resource": "nurse",
                "duration_minutes": 5,
                "dose": 1,
            },
        )
    return time_book_id, visit_type_id


async def _patients(db: Database, n: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    async with db.engine.begin() as conn:
        for i, pid in enumerate(ids):
            await Patients(conn).record(pid, "reservnummer", f"05R{i:09d}", False)
    return ids


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


def _row(
    time_book_id: str, visit_type_id: str, patient_id: str, slot: dict[str, Any]
) -> dict[str, Any]:
    booking_id = str(uuid.uuid4())
    return {
        "booking_id": booking_id,
        "reference": domain.new_reference(),
        "code_hash": domain.code_hash(booking_id, "123456"),
        "patient_id": patient_id,
        "unit_id": "unit-test",
        "time_book_id": time_book_id,
        "visit_type_id": visit_type_id,
        "visit_type_name": "Covid-19 dos 1",
        "dose": 1,
        "slot_id": slot["slot_id"],
        "column": slot["column"],
        "start": slot["start"],
        "end": slot["end"],
        "status": "booked",
        "booked_by": "staff",
        "created_at": datetime.now(UTC),
        "version": 1,
    }


async def _slots_at(
    db: Database, time_book_id: str, visit_type_id: str, hh: int, mm: int = 0
) -> list[Any]:
    start = datetime.combine(_day(), time(hh, mm), domain.TZ).astimezone(UTC)
    async with db.connect() as conn:
        return await Slots(conn).candidates(time_book_id, "nurse", start, 3, visit_type_id)


async def test_bk1_bk4_overlapping_openings_in_flight_together_one_wins(db: Database) -> None:
    """The second opening waits on the first's uncommitted slots, then is refused whole."""
    time_book_id, _ = await _time_book(db)
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
    time_book_id, _ = await _time_book(db)
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
    time_book_id, visit_type_id = await _time_book(db)
    await _open(db, time_book_id, _opening(time(9), time(10), 5, [1]))
    (slot,) = await _slots_at(db, time_book_id, visit_type_id, 9)
    patients = await _patients(db, CONCURRENT)
    start = asyncio.Event()

    async def take(patient_id: str) -> bool:
        await start.wait()
        async with db.engine.begin() as conn:
            return await Bookings(conn).take(_row(time_book_id, visit_type_id, patient_id, slot))

    tasks = [asyncio.create_task(take(p)) for p in patients]
    await asyncio.sleep(0.1)
    start.set()
    results = await asyncio.gather(*tasks)
    assert results.count(True) == 1
    async with db.connect() as conn:
        active = await conn.scalar(
            select(func.count())
            .select_from(tables.bookings)
            .where(tables.bookings.c.slot_id == slot["slot_id"])
        )
        assert active == 1
        assert await Bookings(conn).slot_taken(slot["slot_id"])
    # The candidates now say the slot is taken: a booking moves on to the next column.
    (again,) = await _slots_at(db, time_book_id, visit_type_id, 9)
    assert again["taken"] is True


async def test_bk4_a_cancelled_booking_frees_its_slot(db: Database) -> None:
    time_book_id, visit_type_id = await _time_book(db)
    await _open(db, time_book_id, _opening(time(9), time(10), 5, [1]))
    (slot,) = await _slots_at(db, time_book_id, visit_type_id, 9)
    first, second = await _patients(db, 2)
    async with db.engine.begin() as conn:
        row = _row(time_book_id, visit_type_id, first, slot)
        assert await Bookings(conn).take(row)
        assert not await Bookings(conn).take(_row(time_book_id, visit_type_id, second, slot))
        await Bookings(conn).change(row, status="cancelled", cancelled_by="staff")
        assert await Bookings(conn).take(_row(time_book_id, visit_type_id, second, slot))


async def test_bk4_rebook_onto_a_taken_slot_fails_and_leaves_the_booking_intact(
    db: Database,
) -> None:
    time_book_id, visit_type_id = await _time_book(db)
    await _open(db, time_book_id, _opening(time(9), time(10), 5, [1]))
    (nine,) = await _slots_at(db, time_book_id, visit_type_id, 9)
    (ten_past,) = await _slots_at(db, time_book_id, visit_type_id, 9, 10)
    mine, theirs = await _patients(db, 2)
    booking = _row(time_book_id, visit_type_id, mine, nine)
    other = _row(time_book_id, visit_type_id, theirs, ten_past)
    async with db.engine.begin() as conn:
        assert await Bookings(conn).take(booking)
        assert await Bookings(conn).take(other)

    async with db.engine.begin() as conn:
        moved = await Bookings(conn).move(
            booking,
            {
                "slot_id": ten_past["slot_id"],
                "column": ten_past["column"],
                "start": ten_past["start"],
                "end": ten_past["end"],
            },
        )
        assert moved is False
        # The unit of work goes on after the refusal (the savepoint took only the move back).
        assert await Bookings(conn).slot_taken(ten_past["slot_id"])
    async with db.connect() as conn:
        kept = await Bookings(conn).get(booking["booking_id"])
        theirs_kept = await Bookings(conn).get(other["booking_id"])
    assert kept is not None and theirs_kept is not None
    assert (kept["slot_id"], kept["start"], kept["status"], kept["version"]) == (
        nine["slot_id"],
        nine["start"],
        "booked",
        1,
    )
    assert (theirs_kept["slot_id"], theirs_kept["status"]) == (ten_past["slot_id"], "booked")

    # A rebook of a booking read before someone else changed it is refused as stale.
    async with db.engine.begin() as conn:
        await Bookings(conn).change(booking, arrived_at=datetime.now(UTC))
    with pytest.raises(StaleBooking):
        async with db.engine.begin() as conn:
            await Bookings(conn).move(booking, {"column": 1})


async def test_bk4_concurrent_rebooks_onto_one_free_slot_exactly_one_moves(db: Database) -> None:
    time_book_id, visit_type_id = await _time_book(db)
    await _open(db, time_book_id, _opening(time(9), time(12), 5, [1]))
    slots = [
        (await _slots_at(db, time_book_id, visit_type_id, 9 + i // 12, 5 * (i % 12)))[0]
        for i in range(21)
    ]
    target, sources = slots[0], slots[1:]
    patients = await _patients(db, len(sources))
    rows = [_row(time_book_id, visit_type_id, p, s) for p, s in zip(patients, sources, strict=True)]
    async with db.engine.begin() as conn:
        for row in rows:
            assert await Bookings(conn).take(row)

    async def move(row: dict[str, Any]) -> bool:
        async with db.engine.begin() as conn:
            return await Bookings(conn).move(
                row,
                {
                    "slot_id": target["slot_id"],
                    "start": target["start"],
                    "end": target["end"],
                },
            )

    results = await asyncio.gather(*(move(r) for r in rows))
    assert results.count(True) == 1
    async with db.connect() as conn:
        holders = await conn.scalar(
            select(func.count())
            .select_from(tables.bookings)
            .where(
                tables.bookings.c.slot_id == target["slot_id"], tables.bookings.c.status == "booked"
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
