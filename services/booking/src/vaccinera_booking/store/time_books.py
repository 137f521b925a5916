"""Time books with their resources and visit types, day notes and time blocks."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column, select, text, update
from sqlalchemy.dialects.postgresql import JSON, aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_booking.domain import ResourceColumns, TimeBlock, TimeBook, VisitType
from vaccinera_booking.tables import (
    day_notes,
    time_blocks,
    time_book_resources,
    time_books,
    visit_types,
)
from vaccinera_kit.errors import Conflict

# Advisory lock class of visit types (any constant; the objid is a hash of the id).
_VISIT_TYPE_LOCK = 0x5642


def _children(
    table: Any, order: ColumnElement[Any], *names: str
) -> ColumnElement[list[dict[str, Any]]]:
    """A time book's child rows as one JSON array (one round trip for the whole book)."""
    pairs: list[ColumnElement[Any]] = []
    for name in names:
        pairs += [literal_column(f"'{name}'"), table.c[name]]
    obj = func.json_build_object(*pairs)
    return (
        select(
            func.coalesce(
                func.json_agg(aggregate_order_by(obj, order)),
                literal_column("'[]'::json"),
                type_=JSON,
            )
        )
        .where(table.c.time_book_id == time_books.c.time_book_id)
        .scalar_subquery()
    )


_RESOURCES = _children(
    time_book_resources, time_book_resources.c.position, "resource", "columns"
).label("resources")
_VISIT_TYPES = _children(
    visit_types,
    visit_types.c.position,
    "visit_type_id",
    "name",
    "category",
    "resource",
    "duration_minutes",
    "dose",
    "deleted",
).label("visit_types")
_TIME_BOOK = select(
    time_books.c.time_book_id,
    time_books.c.unit_id,
    time_books.c.unit_name,
    time_books.c.name,
    time_books.c.version,
    _RESOURCES,
    _VISIT_TYPES,
)


def _time_book(row: Any) -> TimeBook:
    return TimeBook(
        time_book_id=row.time_book_id,
        unit_id=row.unit_id,
        unit_name=row.unit_name,
        name=row.name,
        resources=tuple(ResourceColumns(r["resource"], r["columns"]) for r in row.resources),
        visit_types=[VisitType(**vt) for vt in row.visit_types],
        version=row.version,
    )


class TimeBooks:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, book: TimeBook) -> None:
        await self.conn.execute(
            time_books.insert().values(
                time_book_id=book.time_book_id,
                unit_id=book.unit_id,
                unit_name=book.unit_name,
                name=book.name,
                version=book.version,
            )
        )
        await self.conn.execute(
            time_book_resources.insert(),
            [
                {
                    "time_book_id": book.time_book_id,
                    "resource": r.resource,
                    "columns": r.columns,
                    "position": i,
                }
                for i, r in enumerate(book.resources)
            ],
        )

    async def get(self, time_book_id: str) -> TimeBook | None:
        """The time book with its resources and visit types (in the order they were added)."""
        row = (
            await self.conn.execute(_TIME_BOOK.where(time_books.c.time_book_id == time_book_id))
        ).first()
        return _time_book(row) if row else None

    async def for_unit(self, unit_id: str) -> list[TimeBook]:
        rows = await self.conn.execute(
            _TIME_BOOK.where(time_books.c.unit_id == unit_id).order_by(
                time_books.c.name, time_books.c.time_book_id
            )
        )
        return [_time_book(r) for r in rows]

    async def claim(self, book: TimeBook) -> None:
        """Visit types change only on the time book as it was read (optimistic lock)."""
        result = await self.conn.execute(
            update(time_books)
            .where(
                time_books.c.time_book_id == book.time_book_id,
                time_books.c.version == book.version,
            )
            .values(version=time_books.c.version + 1)
        )
        if result.rowcount != 1:
            raise Conflict(
                "The time book changed meanwhile; reload and try again.", code="concurrent_change"
            )
        book.version += 1

    async def add_visit_type(self, time_book_id: str, visit_type: VisitType) -> None:
        position = (
            select(func.coalesce(func.max(visit_types.c.position), 0) + 1)
            .where(visit_types.c.time_book_id == time_book_id)
            .scalar_subquery()
        )
        await self.conn.execute(
            visit_types.insert().values(
                time_book_id=time_book_id, position=position, **vars(visit_type)
            )
        )

    async def save_visit_type(self, visit_type: VisitType) -> None:
        await self.conn.execute(
            update(visit_types)
            .where(visit_types.c.visit_type_id == visit_type.visit_type_id)
            .values(name=visit_type.name, deleted=visit_type.deleted)
        )

    async def lock_visit_type(self, visit_type_id: str, *, exclusive: bool = False) -> None:
        """Bookings onto a visit type share this lock; deleting it takes it alone, so a delete
        sees every booking made before it and none is made after it (BK-7)."""
        fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        await self.conn.execute(
            text(f"SELECT {fn}(:kind, hashtext(:id))"),
            {"kind": _VISIT_TYPE_LOCK, "id": visit_type_id},
        )

    async def set_note(self, time_book_id: str, day: date, text_: str, by: str) -> None:
        values = {"text": text_, "written_by": by}
        await self.conn.execute(
            insert(day_notes)
            .values(time_book_id=time_book_id, day=day, **values)
            .on_conflict_do_update(
                index_elements=[day_notes.c.time_book_id, day_notes.c.day],
                set_={**values, "updated_at": func.now()},
            )
        )

    async def note(self, time_book_id: str, day: date) -> str | None:
        found: str | None = await self.conn.scalar(
            select(day_notes.c.text).where(
                day_notes.c.time_book_id == time_book_id, day_notes.c.day == day
            )
        )
        return found

    async def add_time_block(self, block: TimeBlock) -> None:
        values = vars(block).copy()
        values["columns"] = list(block.columns) if block.columns is not None else None
        await self.conn.execute(time_blocks.insert().values(values))

    async def time_blocks(self, time_book_id: str, lo: datetime, hi: datetime) -> list[TimeBlock]:
        """Blocks that touch [lo, hi)."""
        rows = await self.conn.execute(
            select(
                time_blocks.c.block_id,
                time_blocks.c.time_book_id,
                time_blocks.c.resource,
                time_blocks.c.columns,
                time_blocks.c.start,
                time_blocks.c.end,
                time_blocks.c.label,
                time_blocks.c.booked_inside,
            )
            .where(
                time_blocks.c.time_book_id == time_book_id,
                time_blocks.c.start < hi,
                time_blocks.c.end >= lo,
            )
            .order_by(time_blocks.c.start, time_blocks.c.created_at)
        )
        return [
            TimeBlock(
                r.block_id,
                r.time_book_id,
                r.resource,
                tuple(r.columns) if r.columns is not None else None,
                r.start,
                r.end,
                r.label,
                r.booked_inside,
            )
            for r in rows
        ]
