"""The statements of booking's hot paths, built by functions so the EXPLAIN test
(``tests/test_hot_queries.py``) checks exactly what the service runs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    cast,
    exists,
    func,
    literal_column,
    select,
    true,
)

from vaccinera_booking.domain import TZ
from vaccinera_booking.tables import bookings, next_doses, patients, slots, visit_types

# Constants, not parameters: only then can a generic plan (a prepared statement the server
# stopped re-planning) prove the partial indexes' "status = 'booked'" and use them.
ACTIVE = bookings.c.status == literal_column("'booked'")
OPEN = slots.c.status == literal_column("'open'")
CLOSED = slots.c.status == literal_column("'closed'")


def active(booking_slot: ColumnElement[Any]) -> ColumnElement[bool]:
    """An active booking holds this slot (served by the partial unique index)."""
    return exists().where(bookings.c.slot_id == booking_slot, ACTIVE)


def holder(*columns: ColumnElement[Any]) -> Any:
    """The active booking of each slot, probed through the partial unique index one slot at a
    time (``LATERAL ... LIMIT 1`` keeps the planner from joining the bookings of a whole range,
    which turns quadratic when its statistics lag behind a rush or a fresh opening)."""
    return (
        select(*columns)
        .where(bookings.c.slot_id == slots.c.slot_id, ACTIVE)
        .limit(1)
        .lateral("holder")
    )


def patient_by_identifier_query(value: str) -> Select[Any]:
    return select(patients).where(patients.c.identifier_value == value).limit(1)


def candidates_query(
    time_book_id: str, resource: str, start: datetime, columns: int, visit_type_id: str
) -> Select[Any]:
    """The open slots at ``start``, column 1 first, each saying whether a booking holds it and
    whether the visit type is deleted by now (BK-7)."""
    deleted = (
        select(visit_types.c.deleted)
        .where(visit_types.c.visit_type_id == visit_type_id)
        .scalar_subquery()
    )
    return (
        select(
            slots.c.slot_id,
            slots.c.resource,
            slots.c.column,
            slots.c.start,
            slots.c.end,
            active(slots.c.slot_id).label("taken"),
            deleted.label("visit_type_deleted"),
        )
        .where(
            slots.c.time_book_id == time_book_id,
            slots.c.start == start,
            slots.c.resource == resource,
            OPEN,
            slots.c.column <= columns,
        )
        .order_by(slots.c.column)
    )


def free_times_query(
    time_book_id: str,
    resource: str,
    lo: datetime,
    hi: datetime,
    min_length: timedelta,
    limit: int,
) -> Select[Any]:
    """Start times in [lo, hi) with open, unbooked slots long enough, and how many columns: the
    slots in start order, each probed for an active booking, until ``limit`` times are found."""
    return (
        select(
            slots.c.start,
            func.min(slots.c.end).label("end"),
            func.count().label("free_columns"),
        )
        .where(
            slots.c.time_book_id == time_book_id,
            slots.c.start >= lo,
            slots.c.start < hi,
            slots.c.resource == resource,
            OPEN,
            slots.c.end - slots.c.start >= min_length,
            ~active(slots.c.slot_id),
        )
        .group_by(slots.c.start)
        .order_by(slots.c.start)
        .limit(limit)
    )


# A constant, not a parameter: the select list and GROUP BY must be the same expression.
_LOCAL_DAY = cast(func.timezone(literal_column(f"'{TZ.key}'"), slots.c.start), Date)


def capacity_query(time_book_id: str, lo: datetime, hi: datetime) -> Select[Any]:
    """Opened, booked and closed slots per local day, resource, slot length and visit type
    booked: one statement, so the counts are of one instant, exact during a rush (BK-8)."""
    held = holder(bookings.c.booking_id, bookings.c.visit_type_id)
    booked = held.c.booking_id.is_not(None)
    length = slots.c.end - slots.c.start
    return (
        select(
            _LOCAL_DAY.label("day"),
            slots.c.resource,
            length.label("length"),
            held.c.visit_type_id,
            func.count().label("opened"),
            func.count(held.c.booking_id).label("booked"),
            func.count().filter(~booked & CLOSED).label("closed"),
        )
        .select_from(slots.outerjoin(held, true()))
        .where(slots.c.time_book_id == time_book_id, slots.c.start >= lo, slots.c.start < hi)
        .group_by(_LOCAL_DAY, slots.c.resource, length, held.c.visit_type_id)
    )


def day_slots_query(time_book_id: str, lo: datetime, hi: datetime) -> Select[Any]:
    """Every slot of [lo, hi) with the booking that holds it (the time book's day view)."""
    held = holder(
        bookings.c.booking_id,
        bookings.c.patient_id,
        bookings.c.visit_type_name,
        bookings.c.arrived_at,
    )
    return (
        select(
            slots.c.slot_id,
            slots.c.start,
            slots.c.end,
            slots.c.resource,
            slots.c.column,
            slots.c.status,
            slots.c.label,
            held.c.booking_id,
            held.c.patient_id,
            held.c.visit_type_name,
            held.c.arrived_at,
        )
        .select_from(slots.outerjoin(held, true()))
        .where(slots.c.time_book_id == time_book_id, slots.c.start >= lo, slots.c.start < hi)
        .order_by(slots.c.start, slots.c.resource, slots.c.column)
    )


def patient_bookings_query(patient_id: str, unit_id: str | None) -> Select[Any]:
    query = select(bookings).where(bookings.c.patient_id == patient_id)
    if unit_id is not None:
        query = query.where(bookings.c.unit_id == unit_id)
    return query.order_by(bookings.c.start)


def next_dose_query(patient_id: str, dose_number: int) -> Select[Any]:
    """The first day the dose after ``dose_number`` may be given (BK-10), by primary key: it
    runs in every booking and rebooking of a dose N ≥ 2."""
    return select(next_doses.c.next_dose_from).where(
        next_doses.c.patient_id == patient_id, next_doses.c.dose_number == dose_number
    )
