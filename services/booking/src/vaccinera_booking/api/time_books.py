"""Routes of the time book (BK-1, BK-7, BK-8, BK-9): a unit's staff administer it; citizens list
the books and search free times."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from vaccinera_booking.api.deps import ContextDep
from vaccinera_booking.domain import TZ
from vaccinera_booking.schemas import (
    CapacityOut,
    DayViewOut,
    FreeTimesOut,
    NoteIn,
    OpenedOut,
    OpeningIn,
    RenameIn,
    TimeBlockIn,
    TimeBookIn,
    TimeBookOut,
    VisitTypeIn,
    capacity_out,
    day_view_out,
    free_times_out,
    time_book_out,
)
from vaccinera_booking.services import time_books
from vaccinera_contracts.access import Ops
from vaccinera_kit.deps import Allowed, endpoint

router = APIRouter(tags=["time books"])


@endpoint(router, Ops.CREATE_TIME_BOOK, status_code=201, response_model=TimeBookOut)
async def create_time_book(body: TimeBookIn, ctx: ContextDep, principal: Allowed) -> TimeBookOut:
    """A unit's time book ("tidbok") with its resources, each with parallel columns (BK-1)."""
    book = await time_books.create(
        ctx, principal, body.unit_id, body.unit_name, body.name, body.to_resources()
    )
    return time_book_out(book)


@endpoint(router, Ops.LIST_TIME_BOOKS, response_model=list[TimeBookOut])
async def list_time_books(unit_id: str, ctx: ContextDep, principal: Allowed) -> list[TimeBookOut]:
    """The unit's time books; citizens see only the visit types they can book."""
    books = await time_books.for_unit(ctx, principal, unit_id)
    return [time_book_out(b, include_deleted=principal.is_staff) for b in books]


@endpoint(
    router, Ops.ADD_VISIT_TYPE, status_code=201, response_model=TimeBookOut, errors=(404, 409)
)
async def add_visit_type(
    time_book_id: str, body: VisitTypeIn, ctx: ContextDep, principal: Allowed
) -> TimeBookOut:
    book = await time_books.add_visit_type(ctx, principal, time_book_id, body.to_visit_type())
    return time_book_out(book)


@endpoint(router, Ops.RENAME_VISIT_TYPE, response_model=TimeBookOut, errors=(404, 409))
async def rename_visit_type(
    time_book_id: str, visit_type_id: str, body: RenameIn, ctx: ContextDep, principal: Allowed
) -> TimeBookOut:
    """Renaming is allowed; future bookings show the new name, past ones keep theirs (BK-7)."""
    book = await time_books.rename_visit_type(
        ctx, principal, time_book_id, visit_type_id, body.name
    )
    return time_book_out(book)


@endpoint(router, Ops.DELETE_VISIT_TYPE, response_model=TimeBookOut, errors=(404, 409))
async def delete_visit_type(
    time_book_id: str, visit_type_id: str, ctx: ContextDep, principal: Allowed
) -> TimeBookOut:
    """Refused while future bookings use it, naming them (BK-7): the FAQ's system moved such
    bookings silently and freed their slots, which caused double bookings."""
    book = await time_books.delete_visit_type(ctx, principal, time_book_id, visit_type_id)
    return time_book_out(book)


@endpoint(router, Ops.OPEN_SLOTS, status_code=201, response_model=OpenedOut, errors=(404, 409))
async def open_slots(
    time_book_id: str, body: OpeningIn, ctx: ContextDep, principal: Allowed
) -> OpenedOut:
    """Open bookable times in bulk; refused whole if any overlaps an existing one (BK-1)."""
    opened = await time_books.open_slots(ctx, principal, time_book_id, body.to_opening())
    return OpenedOut(time_book_id=time_book_id, opened=opened)


@endpoint(router, Ops.ADD_TIME_BLOCK, status_code=201, response_model=DayViewOut, errors=(404,))
async def add_time_block(
    time_book_id: str, body: TimeBlockIn, ctx: ContextDep, principal: Allowed
) -> DayViewOut:
    """A labelled block ("blockering"): its free slots can no longer be booked."""
    block = body.to_block(time_book_id)
    book = await time_books.block_time(ctx, principal, time_book_id, block)
    day = block.start.astimezone(TZ).date()
    return day_view_out(await time_books.day(ctx, principal, book, day))


@endpoint(router, Ops.SET_DAY_NOTE, response_model=DayViewOut, errors=(404,))
async def set_day_note(
    time_book_id: str, day: date, body: NoteIn, ctx: ContextDep, principal: Allowed
) -> DayViewOut:
    """A note on a day of the time book (BK-9)."""
    book = await time_books.set_day_note(ctx, principal, time_book_id, day, body.text)
    return day_view_out(await time_books.day(ctx, principal, book, day))


@endpoint(router, Ops.DAY_VIEW, response_model=DayViewOut, errors=(404,))
async def day_view(time_book_id: str, day: date, ctx: ContextDep, principal: Allowed) -> DayViewOut:
    """A day of the time book: every slot with its booking, the blocks and the day's note."""
    return day_view_out(await time_books.day_view(ctx, principal, time_book_id, day))


@endpoint(router, Ops.CAPACITY, response_model=CapacityOut, errors=(404,))
async def capacity(
    time_book_id: str,
    ctx: ContextDep,
    principal: Allowed,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
) -> CapacityOut:
    """Opened, booked and free times per day and resource, and per day and visit type (BK-8),
    exact while booking goes on."""
    return capacity_out(await time_books.capacity(ctx, principal, time_book_id, start, end))


@endpoint(router, Ops.FREE_TIMES, response_model=FreeTimesOut, tags=["booking"], errors=(404,))
async def free_times(
    time_book_id: str,
    ctx: ContextDep,
    principal: Allowed,
    visit_type_id: str,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> FreeTimesOut:
    """Times a visit type can be booked, with how many columns are free at each."""
    times = await time_books.free_times(
        ctx, principal, time_book_id, visit_type_id, start, end, limit
    )
    return free_times_out(time_book_id, visit_type_id, times)
