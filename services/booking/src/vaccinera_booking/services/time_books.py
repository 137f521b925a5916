"""Use cases of the time book (BK-1, BK-7, BK-8, BK-9): create it, its visit types, open slots,
block times, write day notes; read a day, the capacity and the free times."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from vaccinera_booking import domain
from vaccinera_booking.domain import (
    Opening,
    ResourceColumns,
    SlotSpec,
    TimeBlock,
    TimeBook,
    VisitType,
)
from vaccinera_booking.services.context import Context, now
from vaccinera_booking.store import NO_OVERLAPPING_SLOTS, Bookings, FreeTime, Slots, TimeBooks
from vaccinera_contracts.access import Operation, Ops
from vaccinera_contracts.roles import Principal
from vaccinera_kit.auth import ensure_unit
from vaccinera_kit.database import is_unique_violation
from vaccinera_kit.errors import NotFound


async def time_book(ctx: Context, principal: Principal, time_book_id: str) -> TimeBook:
    """A time book of the unit the caller acts for (AC-5)."""
    async with ctx.read() as conn:
        book = await TimeBooks(conn).get(time_book_id)
    if book is None:
        raise NotFound(f"No time book {time_book_id}.")
    ensure_unit(principal, book.unit_id)
    return book


async def create(
    ctx: Context,
    principal: Principal,
    unit_id: str,
    unit_name: str,
    name: str,
    resources: list[ResourceColumns],
) -> TimeBook:
    """A unit's time book ("tidbok") with its resources, each with parallel columns (BK-1)."""
    ensure_unit(principal, unit_id)
    book = TimeBook.create(str(uuid.uuid4()), unit_id, unit_name, name, resources)
    async with ctx.unit_of_work() as uow:
        await TimeBooks(uow.conn).add(book)
    return book


async def for_unit(ctx: Context, principal: Principal, unit_id: str) -> list[TimeBook]:
    ensure_unit(principal, unit_id)
    async with ctx.read() as conn:
        return await TimeBooks(conn).for_unit(unit_id)


async def add_visit_type(
    ctx: Context, principal: Principal, time_book_id: str, visit_type: VisitType
) -> TimeBook:
    book = await time_book(ctx, principal, time_book_id)
    book.add_visit_type(visit_type)
    async with ctx.unit_of_work() as uow:
        books = TimeBooks(uow.conn)
        await books.claim(book)
        await books.add_visit_type(time_book_id, visit_type)
    return book


async def rename_visit_type(
    ctx: Context, principal: Principal, time_book_id: str, visit_type_id: str, name: str
) -> TimeBook:
    """Renaming is allowed; future bookings show the new name, past ones keep theirs (BK-7)."""
    book = await time_book(ctx, principal, time_book_id)
    renamed = book.rename_visit_type(visit_type_id, name)
    async with ctx.unit_of_work() as uow:
        books = TimeBooks(uow.conn)
        await books.claim(book)
        await books.save_visit_type(renamed)
        await Bookings(uow).rename_future(book, visit_type_id, now())
    return book


async def delete_visit_type(
    ctx: Context, principal: Principal, time_book_id: str, visit_type_id: str
) -> TimeBook:
    """Refused while future bookings use it, naming them (BK-7)."""
    book = await time_book(ctx, principal, time_book_id)
    book.visit_type(visit_type_id)
    async with ctx.unit_of_work() as uow:
        books = TimeBooks(uow.conn)
        # Waits for bookings in flight on this visit type; later ones see it deleted.
        await books.lock_visit_type(visit_type_id, exclusive=True)
        future = await Bookings(uow).future_with_visit_type(visit_type_id, now())
        deleted = book.delete_visit_type(visit_type_id, future)
        await books.claim(book)
        await books.save_visit_type(deleted)
    return book


async def open_slots(
    ctx: Context, principal: Principal, time_book_id: str, opening: Opening
) -> int:
    """Open bookable times in bulk; refused whole if any overlaps an existing one (BK-1)."""
    book = await time_book(ctx, principal, time_book_id)
    slots = book.plan_opening(opening, now())
    # Checked first for an answer that names a clash; the exclusion constraint decides.
    async with ctx.read() as conn:
        existing = await Slots(conn).in_range(
            time_book_id, slots[0].start - timedelta(hours=4), slots[-1].end, opening.resource
        )
    clashes = domain.overlaps(slots, existing)
    if clashes:
        raise domain.overlapping(len(clashes), clashes[0])
    return await _open(ctx, time_book_id, slots)


async def _open(ctx: Context, time_book_id: str, slots: list[SlotSpec]) -> int:
    try:
        async with ctx.unit_of_work() as uow:
            return await Slots(uow.conn).open(time_book_id, slots)
    except IntegrityError as exc:
        if is_unique_violation(exc, NO_OVERLAPPING_SLOTS):
            raise domain.overlapping(0, None) from exc  # another opening won the race
        raise


async def block_time(
    ctx: Context,
    principal: Principal,
    time_book_id: str,
    block: TimeBlock,
) -> TimeBook:
    """A labelled block ("blockering"): its free slots can no longer be booked; bookings
    already inside it stand and are counted."""
    book = await time_book(ctx, principal, time_book_id)
    async with ctx.unit_of_work() as uow:
        slots = Slots(uow.conn)
        where = (time_book_id, block.start, block.end)
        booked = await slots.count_booked(*where, block.resource, block.columns)
        await slots.close_free(*where, block.label, block.resource, block.columns)
        await TimeBooks(uow.conn).add_time_block(
            TimeBlock(**{**vars(block), "booked_inside": booked})
        )
    return book


async def set_day_note(
    ctx: Context, principal: Principal, time_book_id: str, day: date, text: str
) -> TimeBook:
    """A note on a day of the time book (BK-9)."""
    book = await time_book(ctx, principal, time_book_id)
    async with ctx.unit_of_work() as uow:
        await TimeBooks(uow.conn).set_note(
            time_book_id, day, text, principal.hsa_id or principal.subject
        )
    return book


@dataclass(frozen=True)
class DayView:
    time_book_id: str
    day: date
    note: str | None
    slots: list[dict[str, Any]]
    blocks: list[TimeBlock]


async def day(
    ctx: Context,
    principal: Principal,
    book: TimeBook,
    day_: date,
    op: Operation | None = None,
) -> DayView:
    """A day of the time book with its bookings; reading it is logged per patient shown."""
    lo, hi = domain.midnight(day_), domain.midnight(day_ + timedelta(days=1))
    async with ctx.read() as conn:
        rows = await Slots(conn).day(book.time_book_id, lo, hi)
        books = TimeBooks(conn)
        note = await books.note(book.time_book_id, day_)
        blocks = await books.time_blocks(book.time_book_id, lo, hi)
    if op is not None:
        patients = sorted({str(s["patient_id"]) for s in rows if s.get("patient_id")})
        await ctx.access.record(principal, op, *patients)
    return DayView(book.time_book_id, day_, note, rows, blocks)


async def day_view(ctx: Context, principal: Principal, time_book_id: str, day_: date) -> DayView:
    book = await time_book(ctx, principal, time_book_id)
    return await day(ctx, principal, book, day_, Ops.DAY_VIEW)


@dataclass(frozen=True)
class Capacity:
    book: TimeBook
    days: list[domain.DayCapacity]
    visit_types: list[domain.VisitTypeCapacity]


async def capacity(
    ctx: Context, principal: Principal, time_book_id: str, first: date, last: date
) -> Capacity:
    """Opened, booked and free times per day and resource, and per day and visit type (BK-8),
    counted by one statement over the slots and the bookings that hold them, so exact while
    booking goes on."""
    book = await time_book(ctx, principal, time_book_id)
    if last < first or last - first > timedelta(days=366):
        raise domain.invalid("to", "range", "Give at most one year, 'to' not before 'from'.")
    async with ctx.read() as conn:
        counts = await Slots(conn).capacity(
            time_book_id, domain.midnight(first), domain.midnight(last + timedelta(days=1))
        )
    days, per_type = domain.capacity(counts, book.visit_types)
    return Capacity(book, days, per_type)


async def free_times(
    ctx: Context,
    principal: Principal,
    time_book_id: str,
    visit_type_id: str,
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> list[FreeTime]:
    book = await time_book(ctx, principal, time_book_id)
    visit_type = book.visit_type(visit_type_id)
    lo = max(domain.aware(start, "from") if start else now(), now())
    hi = domain.aware(end, "to") if end else lo + timedelta(days=28)
    return await free(ctx, time_book_id, visit_type, lo, hi, limit)


async def free(
    ctx: Context,
    time_book_id: str,
    visit_type: VisitType,
    lo: datetime,
    hi: datetime,
    limit: int,
) -> list[FreeTime]:
    async with ctx.read() as conn:
        return await Slots(conn).free_times(
            time_book_id,
            visit_type.resource,
            lo,
            hi,
            timedelta(minutes=visit_type.duration_minutes),
            limit,
        )
