"""Bookings. No double booking (BK-4) rests on the database: a booking is inserted with
``ON CONFLICT DO NOTHING`` against the partial unique index of active bookings per slot, so
whoever races for a slot, one insert wins and the others learn it without an error; a rebook is
an update that the same index refuses.

Storing a booking stages the events it recorded in the same unit of work, so the row and its
events commit together (transactional outbox)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_booking.domain import Booking, FutureBooking, TimeBook
from vaccinera_booking.store.queries import ACTIVE, active, patient_bookings_query
from vaccinera_booking.tables import bookings, mass_cancellations
from vaccinera_kit.database import is_unique_violation
from vaccinera_kit.errors import Conflict
from vaccinera_kit.unit_of_work import UnitOfWork

ONE_BOOKING_PER_SLOT = "uq_bookings_slot_id_booked"
_COLUMNS = tuple(f.name for f in fields(Booking) if f.name != "events")
_MOVED = ("time_book_id", "visit_type_id", "visit_type_name", "slot_id", "column", "start", "end")
_CHANGED = ("status", "cancelled_by", "cancelled_at", "mass_cancellation_id", "arrived_at")


class StaleBooking(Conflict):
    """The booking changed (or was cancelled) while this request worked on it."""

    code = "concurrent_change"

    def __init__(self) -> None:
        super().__init__("The booking changed meanwhile; reload it.")


def _booking(row: Any) -> Booking:
    return Booking(**{name: getattr(row, name) for name in _COLUMNS})


def _row(booking: Booking) -> dict[str, Any]:
    return {name: getattr(booking, name) for name in _COLUMNS}


def _as_read(booking: Booking) -> list[ColumnElement[bool]]:
    """The booking as it was read: nobody changed it since."""
    return [bookings.c.booking_id == booking.booking_id, bookings.c.version == booking.version]


class Bookings:
    """Over a unit of work (changes) or a plain connection (reads)."""

    def __init__(self, source: UnitOfWork | AsyncConnection) -> None:
        self.uow = source if isinstance(source, UnitOfWork) else None
        self.conn = source.conn if isinstance(source, UnitOfWork) else source

    def _stage(self, booking: Booking) -> None:
        if self.uow is None:
            raise RuntimeError("bookings change only in a unit of work")
        self.uow.publish(*booking.events)
        booking.events.clear()

    async def add(self, booking: Booking) -> bool:
        """Insert a booking holding its slot; False if an active booking holds it.

        A competitor still in flight makes the insert wait for its outcome, so the answer is
        final. A clash of the random reference (not of the slot) is retried with a new one."""
        for _ in range(5):
            inserted = await self.conn.scalar(
                insert(bookings)
                .values(_row(booking))
                .on_conflict_do_nothing()
                .returning(bookings.c.booking_id)
            )
            if inserted is not None:
                self._stage(booking)
                return True
            if await self.slot_taken(booking.slot_id):
                return False
            booking.new_reference()
        raise RuntimeError("no free booking reference after 5 tries")

    async def slot_taken(self, slot_id: int) -> bool:
        return bool(await self.conn.scalar(select(active(literal(slot_id, BigInteger)))))

    async def move(self, before: Booking, moved: Booking) -> bool:
        """Store a move (BK-5); False if an active booking holds the new slot. Raises
        StaleBooking if the booking changed since it was read."""
        try:
            async with self.conn.begin_nested():
                result = await self.conn.execute(
                    update(bookings)
                    .where(*_as_read(before), ACTIVE)
                    .values(
                        **{name: getattr(moved, name) for name in _MOVED},
                        version=bookings.c.version + 1,
                    )
                )
        except IntegrityError as exc:
            if is_unique_violation(exc, ONE_BOOKING_PER_SLOT):
                return False
            raise
        if result.rowcount == 0:
            raise StaleBooking
        moved.version = before.version + 1
        self._stage(moved)
        return True

    async def save(self, booking: Booking) -> None:
        """Store a cancellation or an arrival, unless the booking changed meanwhile."""
        result = await self.conn.execute(
            update(bookings)
            .where(*_as_read(booking))
            .values(
                **{name: getattr(booking, name) for name in _CHANGED},
                version=bookings.c.version + 1,
            )
        )
        if result.rowcount == 0:
            raise StaleBooking
        booking.version += 1
        self._stage(booking)

    async def active_in_range(self, time_book_id: str, lo: datetime, hi: datetime) -> list[Booking]:
        """The active bookings of a range, locked for a mass cancellation (BK-6)."""
        rows = await self.conn.execute(
            select(bookings)
            .where(
                bookings.c.time_book_id == time_book_id,
                ACTIVE,
                bookings.c.start >= lo,
                bookings.c.start < hi,
            )
            .order_by(bookings.c.start, bookings.c.column)
            .with_for_update()
        )
        return [_booking(r) for r in rows]

    async def save_mass_cancellation(
        self, row: dict[str, Any], cancelled: Sequence[Booking]
    ) -> None:
        """The mass cancellation and every booking it cancelled, in two statements."""
        await self.conn.execute(mass_cancellations.insert().values(row))
        if cancelled:
            first = cancelled[0]
            await self.conn.execute(
                update(bookings)
                .where(bookings.c.booking_id.in_([b.booking_id for b in cancelled]), ACTIVE)
                .values(
                    status="cancelled",
                    cancelled_by=first.cancelled_by,
                    cancelled_at=first.cancelled_at,
                    mass_cancellation_id=first.mass_cancellation_id,
                    version=bookings.c.version + 1,
                )
            )
        for booking in cancelled:
            self._stage(booking)

    async def get(self, booking_id: str) -> Booking | None:
        row = (
            await self.conn.execute(select(bookings).where(bookings.c.booking_id == booking_id))
        ).first()
        return _booking(row) if row else None

    async def by_reference(self, reference: str) -> Booking | None:
        row = (
            await self.conn.execute(select(bookings).where(bookings.c.reference == reference))
        ).first()
        return _booking(row) if row else None

    async def by_reference_for_code(self, reference: str) -> Booking | None:
        """The booking of ``reference``, locked until the unit of work ends: attempts with
        its code are checked one at a time, so no more wrong codes are tried than allowed."""
        row = (
            await self.conn.execute(
                select(bookings).where(bookings.c.reference == reference).with_for_update()
            )
        ).first()
        return _booking(row) if row else None

    async def count_code_failure(self, booking_id: str) -> None:
        await self.conn.execute(
            update(bookings)
            .where(bookings.c.booking_id == booking_id)
            .values(code_failures=bookings.c.code_failures + 1)
        )

    async def save_code(self, booking: Booking) -> None:
        """Store a new manage code (its hash, the wrong codes forgotten) and stage its event,
        unless the booking changed or was cancelled meanwhile."""
        result = await self.conn.execute(
            update(bookings)
            .where(*_as_read(booking), ACTIVE)
            .values(
                code_hash=booking.code_hash,
                code_failures=booking.code_failures,
                version=bookings.c.version + 1,
            )
        )
        if result.rowcount == 0:
            raise StaleBooking
        booking.version += 1
        self._stage(booking)

    async def for_patient(self, patient_id: str, unit_id: str | None) -> list[Booking]:
        rows = await self.conn.execute(patient_bookings_query(patient_id, unit_id))
        return [_booking(r) for r in rows]

    async def future_with_visit_type(
        self, visit_type_id: str, now: datetime
    ) -> list[FutureBooking]:
        rows = await self.conn.execute(
            select(bookings.c.reference, bookings.c.start)
            .where(bookings.c.visit_type_id == visit_type_id, ACTIVE, bookings.c.start > now)
            .order_by(bookings.c.start)
        )
        return [FutureBooking(r.reference, r.start) for r in rows]

    async def rename_future(self, book: TimeBook, visit_type_id: str, now: datetime) -> None:
        """Future bookings show a visit type's new name; past ones keep theirs (BK-7)."""
        await self.conn.execute(
            update(bookings)
            .where(bookings.c.visit_type_id == visit_type_id, ACTIVE, bookings.c.start > now)
            .values(visit_type_name=book.visit_type(visit_type_id).name)
        )
