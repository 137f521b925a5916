"""Slots: opened in bulk, found for a booking, counted and closed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    DateTime,
    SmallInteger,
    Text,
    bindparam,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_booking.domain import CapacityCount, Slot, SlotSpec
from vaccinera_booking.store.queries import (
    active,
    candidates_query,
    capacity_query,
    day_slots_query,
    free_times_query,
)
from vaccinera_booking.tables import slots


@dataclass(frozen=True)
class FreeTime:
    """A start time with open, unbooked slots long enough, and how many columns."""

    start: datetime
    end: datetime
    free_columns: int


def _range(
    time_book_id: str,
    lo: datetime,
    hi: datetime,
    resource: str | None,
    columns: Sequence[int] | None,
) -> list[ColumnElement[bool]]:
    where = [slots.c.time_book_id == time_book_id, slots.c.start >= lo, slots.c.start < hi]
    if resource is not None:
        where.append(slots.c.resource == resource)
    if columns is not None:
        where.append(slots.c.column.in_(list(columns)))
    return where


class Slots:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def open(self, time_book_id: str, specs: Sequence[SlotSpec]) -> int:
        """All of an opening in one statement: the exclusion constraint refuses it whole if any
        slot overlaps one opened meanwhile (IntegrityError on ``NO_OVERLAPPING_SLOTS``)."""
        rows = (
            func.unnest(
                bindparam("resources", [s.resource for s in specs], ARRAY(Text)),
                bindparam("columns", [s.column for s in specs], ARRAY(SmallInteger)),
                bindparam("starts", [s.start for s in specs], ARRAY(DateTime(timezone=True))),
                bindparam("ends", [s.end for s in specs], ARRAY(DateTime(timezone=True))),
            )
            .table_valued("resource", "column", "start", "end")
            .render_derived(name="new")
        )
        await self.conn.execute(
            slots.insert().from_select(
                ["time_book_id", "resource", "column", "start", "end"],
                select(
                    literal(time_book_id, Text),
                    rows.c.resource,
                    rows.c.column,
                    rows.c.start,
                    rows.c.end,
                ),
            )
        )
        return len(specs)

    async def in_range(
        self, time_book_id: str, lo: datetime, hi: datetime, resource: str | None = None
    ) -> list[SlotSpec]:
        rows = await self.conn.execute(
            select(slots.c.resource, slots.c.column, slots.c.start, slots.c.end)
            .where(*_range(time_book_id, lo, hi, resource, None))
            .order_by(slots.c.start, slots.c.column)
        )
        return [SlotSpec(r.resource, r.column, r.start, r.end) for r in rows]

    async def candidates(
        self, time_book_id: str, resource: str, start: datetime, columns: int, visit_type_id: str
    ) -> tuple[list[Slot], bool]:
        """The open slots at ``start`` (column 1 first) and whether the visit type is deleted
        by now (a delete may have committed since the time book was read, BK-7)."""
        rows = (
            await self.conn.execute(
                candidates_query(time_book_id, resource, start, columns, visit_type_id)
            )
        ).all()
        found = [Slot(r.slot_id, r.resource, r.column, r.start, r.end, r.taken) for r in rows]
        return found, bool(rows and rows[0].visit_type_deleted)

    async def count_booked(
        self,
        time_book_id: str,
        lo: datetime,
        hi: datetime,
        resource: str | None = None,
        columns: Sequence[int] | None = None,
    ) -> int:
        count = await self.conn.scalar(
            select(func.count())
            .select_from(slots)
            .where(*_range(time_book_id, lo, hi, resource, columns), active(slots.c.slot_id))
        )
        return int(count or 0)

    async def close_free(
        self,
        time_book_id: str,
        lo: datetime,
        hi: datetime,
        label: str,
        resource: str | None = None,
        columns: Sequence[int] | None = None,
    ) -> int:
        """Close the slots of the range that no booking holds. A booking racing this may still
        take one of them; it then stands, and every view counts that slot as booked."""
        result = await self.conn.execute(
            update(slots)
            .where(*_range(time_book_id, lo, hi, resource, columns), ~active(slots.c.slot_id))
            .values(status="closed", label=label)
        )
        return result.rowcount

    async def free_times(
        self,
        time_book_id: str,
        resource: str,
        lo: datetime,
        hi: datetime,
        min_length: timedelta,
        limit: int,
    ) -> list[FreeTime]:
        rows = await self.conn.execute(
            free_times_query(time_book_id, resource, lo, hi, min_length, limit)
        )
        return [FreeTime(r.start, r.end, r.free_columns) for r in rows]

    async def capacity(self, time_book_id: str, lo: datetime, hi: datetime) -> list[CapacityCount]:
        rows = await self.conn.execute(capacity_query(time_book_id, lo, hi))
        return [CapacityCount(**r._mapping) for r in rows]

    async def day(self, time_book_id: str, lo: datetime, hi: datetime) -> list[dict[str, Any]]:
        """The day view's rows: every slot with the booking that holds it."""
        rows = await self.conn.execute(day_slots_query(time_book_id, lo, hi))
        return [dict(r._mapping) for r in rows]
