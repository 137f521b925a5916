"""Booking's repositories over PostgreSQL (SQLAlchemy Core on asyncpg).

Each repository wraps the connection of a unit of work (writes) or a plain connection (reads)
and returns rows as dicts keyed by column name. No double booking (BK-4) rests on the database:
a booking is inserted with ``ON CONFLICT DO NOTHING`` against the partial unique index of
active bookings per slot, so whoever races for a slot, one insert wins and the others learn it
without an error; a rebook is an update that the same index refuses.

The statements of the hot paths are built by the ``*_query`` functions, so the EXPLAIN test
checks exactly what the service runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    ColumnElement,
    Date,
    DateTime,
    Select,
    SmallInteger,
    Text,
    bindparam,
    cast,
    exists,
    func,
    literal,
    literal_column,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import JSON, aggregate_order_by, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_booking import domain
from vaccinera_booking.tables import (
    bookings,
    day_notes,
    declarations,
    mass_cancellations,
    patients,
    questionnaires,
    slots,
    time_blocks,
    time_book_resources,
    time_books,
    visit_types,
)
from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.events import (
    ArrivalRegistered,
    BookingCancelled,
    BookingCreated,
    BookingRebooked,
    HealthDeclarationSubmitted,
)
from vaccinera_kit.database import is_unique_violation

PUBLISHES: tuple[type[DomainEvent], ...] = (
    BookingCreated,
    BookingRebooked,
    BookingCancelled,
    ArrivalRegistered,
    HealthDeclarationSubmitted,
)

Doc = dict[str, Any]

ONE_BOOKING_PER_SLOT = "uq_bookings_slot_id_booked"
NO_OVERLAPPING_SLOTS = "ex_slots_no_overlap"
# Advisory lock class of visit types (any constant; the objid is a hash of the id).
_VISIT_TYPE_LOCK = 0x5642


class StaleBooking(Exception):
    """The booking changed (or was cancelled) while this request worked on it."""


# Constants, not parameters: only then can a generic plan (a prepared statement the server
# stopped re-planning) prove the partial indexes' "status = 'booked'" and use them.
ACTIVE = bookings.c.status == literal_column("'booked'")
OPEN = slots.c.status == literal_column("'open'")
CLOSED = slots.c.status == literal_column("'closed'")


def _doc(row: Any) -> Doc:
    return dict(row._mapping)


def _active(booking_slot: ColumnElement[Any]) -> ColumnElement[bool]:
    """An active booking holds this slot (served by the partial unique index)."""
    return exists().where(bookings.c.slot_id == booking_slot, ACTIVE)


# --- patients (the projection of identity) -------------------------------------------------


def patient_by_identifier_query(value: str) -> Select[Any]:
    return select(patients).where(patients.c.identifier_value == value).limit(1)


class Patients:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, patient_id: str) -> Doc | None:
        row = (
            await self.conn.execute(select(patients).where(patients.c.patient_id == patient_id))
        ).first()
        return _doc(row) if row else None

    async def by_identifier(self, value: str) -> Doc | None:
        row = (await self.conn.execute(patient_by_identifier_query(value))).first()
        return _doc(row) if row else None

    async def record(self, patient_id: str, kind: str, value: str, protected: bool) -> None:
        """The whole patient as identity registered it: insert, or overwrite what was learnt."""
        fields = {"identifier_kind": kind, "identifier_value": value, "protected": protected}
        await self.conn.execute(
            insert(patients)
            .values(patient_id=patient_id, **fields)
            .on_conflict_do_update(
                index_elements=[patients.c.patient_id], set_={**fields, "updated_at": func.now()}
            )
        )

    async def learn(self, patient_id: str, kind: str, value: str, protected: bool) -> None:
        """A patient learnt from identity directly, before its event came: the events, applied
        in order, stay the authority, so an existing row is left alone."""
        await self.conn.execute(
            insert(patients)
            .values(
                patient_id=patient_id,
                identifier_kind=kind,
                identifier_value=value,
                protected=protected,
            )
            .on_conflict_do_nothing(index_elements=[patients.c.patient_id])
        )

    async def change(self, patient_id: str, **fields: Any) -> None:
        """Part of a patient changed. A patient booking has not seen yet is not invented from
        half of it: the first request that needs them asks identity for the whole."""
        await self.conn.execute(
            update(patients)
            .where(patients.c.patient_id == patient_id)
            .values(**fields, updated_at=func.now())
        )


# --- time books ------------------------------------------------------------------------------


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


class TimeBooks:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, doc: Doc, resources: Sequence[Doc]) -> None:
        await self.conn.execute(
            time_books.insert().values(
                {k: doc[k] for k in ("time_book_id", "unit_id", "unit_name", "name", "version")}
            )
        )
        await self.conn.execute(
            time_book_resources.insert(),
            [
                {
                    "time_book_id": doc["time_book_id"],
                    "resource": r["resource"],
                    "columns": r["columns"],
                    "position": i,
                }
                for i, r in enumerate(resources)
            ],
        )

    async def get(self, time_book_id: str) -> Doc | None:
        """The time book with its resources and visit types (in the order they were added)."""
        row = (
            await self.conn.execute(_TIME_BOOK.where(time_books.c.time_book_id == time_book_id))
        ).first()
        return _doc(row) if row else None

    async def for_unit(self, unit_id: str) -> list[Doc]:
        rows = await self.conn.execute(
            _TIME_BOOK.where(time_books.c.unit_id == unit_id).order_by(
                time_books.c.name, time_books.c.time_book_id
            )
        )
        return [_doc(r) for r in rows]

    async def claim_version(self, time_book_id: str, version: int) -> bool:
        """Optimistic lock of a change to the visit types: False if someone changed them since
        ``version`` was read."""
        result = await self.conn.execute(
            update(time_books)
            .where(time_books.c.time_book_id == time_book_id, time_books.c.version == version)
            .values(version=time_books.c.version + 1)
        )
        return result.rowcount == 1

    async def add_visit_type(self, time_book_id: str, visit_type: Doc) -> None:
        position = (
            select(func.coalesce(func.max(visit_types.c.position), 0) + 1)
            .where(visit_types.c.time_book_id == time_book_id)
            .scalar_subquery()
        )
        await self.conn.execute(
            visit_types.insert().values(time_book_id=time_book_id, position=position, **visit_type)
        )

    async def change_visit_type(self, visit_type_id: str, **fields: Any) -> None:
        await self.conn.execute(
            update(visit_types).where(visit_types.c.visit_type_id == visit_type_id).values(**fields)
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

    async def add_time_block(self, block: Doc) -> None:
        await self.conn.execute(time_blocks.insert().values(block))

    async def time_blocks(self, time_book_id: str, lo: datetime, hi: datetime) -> list[Doc]:
        """Blocks that touch [lo, hi)."""
        rows = await self.conn.execute(
            select(
                time_blocks.c.block_id,
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
        return [_doc(r) for r in rows]

    async def lock_visit_type(self, visit_type_id: str, *, exclusive: bool = False) -> None:
        """Bookings onto a visit type share this lock; deleting it takes it alone, so a delete
        sees every booking made before it and none is made after it (BK-7)."""
        fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        await self.conn.execute(
            text(f"SELECT {fn}(:kind, hashtext(:id))"),
            {"kind": _VISIT_TYPE_LOCK, "id": visit_type_id},
        )


# --- slots -----------------------------------------------------------------------------------


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
            _active(slots.c.slot_id).label("taken"),
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


def _holder(*columns: ColumnElement[Any]) -> Any:
    """The active booking of each slot, probed through the partial unique index one slot at a
    time (``LATERAL ... LIMIT 1`` keeps the planner from joining the bookings of a whole range,
    which turns quadratic when its statistics lag behind a rush or a fresh opening)."""
    return (
        select(*columns)
        .where(bookings.c.slot_id == slots.c.slot_id, ACTIVE)
        .limit(1)
        .lateral("holder")
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
            ~_active(slots.c.slot_id),
        )
        .group_by(slots.c.start)
        .order_by(slots.c.start)
        .limit(limit)
    )


# A constant, not a parameter: the select list and GROUP BY must be the same expression.
_LOCAL_DAY = cast(func.timezone(literal_column(f"'{domain.TZ.key}'"), slots.c.start), Date)


def capacity_query(time_book_id: str, lo: datetime, hi: datetime) -> Select[Any]:
    """Opened, booked and closed slots per local day, resource, slot length and visit type
    booked: one statement, so the counts are of one instant, exact during a rush (BK-8)."""
    holder = _holder(bookings.c.booking_id, bookings.c.visit_type_id)
    booked = holder.c.booking_id.is_not(None)
    length = slots.c.end - slots.c.start
    return (
        select(
            _LOCAL_DAY.label("day"),
            slots.c.resource,
            length.label("length"),
            holder.c.visit_type_id,
            func.count().label("opened"),
            func.count(holder.c.booking_id).label("booked"),
            func.count().filter(~booked & CLOSED).label("closed"),
        )
        .select_from(slots.outerjoin(holder, true()))
        .where(slots.c.time_book_id == time_book_id, slots.c.start >= lo, slots.c.start < hi)
        .group_by(_LOCAL_DAY, slots.c.resource, length, holder.c.visit_type_id)
    )


def day_slots_query(time_book_id: str, lo: datetime, hi: datetime) -> Select[Any]:
    """Every slot of [lo, hi) with the booking that holds it (the time book's day view)."""
    holder = _holder(
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
            holder.c.booking_id,
            holder.c.patient_id,
            holder.c.visit_type_name,
            holder.c.arrived_at,
        )
        .select_from(slots.outerjoin(holder, true()))
        .where(slots.c.time_book_id == time_book_id, slots.c.start >= lo, slots.c.start < hi)
        .order_by(slots.c.start, slots.c.resource, slots.c.column)
    )


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

    async def open(self, time_book_id: str, specs: Sequence[domain.SlotSpec]) -> int:
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
    ) -> list[Doc]:
        rows = await self.conn.execute(
            select(slots.c.resource, slots.c.column, slots.c.start, slots.c.end)
            .where(*_range(time_book_id, lo, hi, resource, None))
            .order_by(slots.c.start, slots.c.column)
        )
        return [_doc(r) for r in rows]

    async def candidates(
        self, time_book_id: str, resource: str, start: datetime, columns: int, visit_type_id: str
    ) -> list[Doc]:
        rows = await self.conn.execute(
            candidates_query(time_book_id, resource, start, columns, visit_type_id)
        )
        return [_doc(r) for r in rows]

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
            .where(*_range(time_book_id, lo, hi, resource, columns), _active(slots.c.slot_id))
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
            .where(*_range(time_book_id, lo, hi, resource, columns), ~_active(slots.c.slot_id))
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
    ) -> list[Doc]:
        rows = await self.conn.execute(
            free_times_query(time_book_id, resource, lo, hi, min_length, limit)
        )
        return [_doc(r) for r in rows]

    async def capacity(self, time_book_id: str, lo: datetime, hi: datetime) -> list[Doc]:
        rows = await self.conn.execute(capacity_query(time_book_id, lo, hi))
        return [_doc(r) for r in rows]

    async def day(self, time_book_id: str, lo: datetime, hi: datetime) -> list[Doc]:
        rows = await self.conn.execute(day_slots_query(time_book_id, lo, hi))
        return [_doc(r) for r in rows]


# --- bookings --------------------------------------------------------------------------------


def patient_bookings_query(patient_id: str, unit_id: str | None) -> Select[Any]:
    query = select(bookings).where(bookings.c.patient_id == patient_id)
    if unit_id is not None:
        query = query.where(bookings.c.unit_id == unit_id)
    return query.order_by(bookings.c.start)


def _current(booking: Doc) -> list[ColumnElement[bool]]:
    """The booking as it was read: still active, and nobody changed it since."""
    return [
        bookings.c.booking_id == booking["booking_id"],
        ACTIVE,
        bookings.c.version == booking["version"],
    ]


class Bookings:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def take(self, row: Doc) -> bool:
        """Insert a booking holding ``row["slot_id"]``; False if an active booking holds it.

        A competitor still in flight makes the insert wait for its outcome, so the answer is
        final. A clash of the random reference (not of the slot) is retried with a new one;
        ``row["reference"]`` is then the one stored."""
        for _ in range(5):
            inserted = await self.conn.scalar(
                insert(bookings)
                .values(row)
                .on_conflict_do_nothing()
                .returning(bookings.c.booking_id)
            )
            if inserted is not None:
                return True
            if await self.slot_taken(row["slot_id"]):
                return False
            row["reference"] = domain.new_reference()
        raise RuntimeError("no free booking reference after 5 tries")

    async def slot_taken(self, slot_id: int) -> bool:
        return bool(await self.conn.scalar(select(_active(literal(slot_id, BigInteger)))))

    async def move(self, booking: Doc, changes: Doc) -> bool:
        """Move an active booking to another slot; False if an active booking holds that slot.
        Raises StaleBooking if the booking changed since it was read."""
        try:
            async with self.conn.begin_nested():
                result = await self.conn.execute(
                    update(bookings)
                    .where(*_current(booking))
                    .values(**changes, version=bookings.c.version + 1)
                )
        except IntegrityError as exc:
            if is_unique_violation(exc, ONE_BOOKING_PER_SLOT):
                return False
            raise
        if result.rowcount == 0:
            raise StaleBooking
        return True

    async def change(self, booking: Doc, **fields: Any) -> Doc:
        """Change an active booking unless it changed meanwhile (else StaleBooking)."""
        row = (
            await self.conn.execute(
                update(bookings)
                .where(*_current(booking))
                .values(**fields, version=bookings.c.version + 1)
                .returning(*bookings.c)
            )
        ).first()
        if row is None:
            raise StaleBooking
        return _doc(row)

    async def cancel_range(
        self, time_book_id: str, lo: datetime, hi: datetime, **fields: Any
    ) -> list[Doc]:
        """Cancel every active booking of the range in one statement (BK-6): one that another
        request moves or cancels meanwhile is re-checked against the range after it commits."""
        rows = await self.conn.execute(
            update(bookings)
            .where(
                bookings.c.time_book_id == time_book_id,
                ACTIVE,
                bookings.c.start >= lo,
                bookings.c.start < hi,
            )
            .values(status="cancelled", version=bookings.c.version + 1, **fields)
            .returning(*bookings.c)
        )
        return sorted((_doc(r) for r in rows), key=lambda b: (b["start"], b["column"]))

    async def add_mass_cancellation(self, row: Doc) -> None:
        await self.conn.execute(mass_cancellations.insert().values(row))

    async def get(self, booking_id: str) -> Doc | None:
        row = (
            await self.conn.execute(select(bookings).where(bookings.c.booking_id == booking_id))
        ).first()
        return _doc(row) if row else None

    async def by_reference(self, reference: str) -> Doc | None:
        row = (
            await self.conn.execute(select(bookings).where(bookings.c.reference == reference))
        ).first()
        return _doc(row) if row else None

    async def count_code_failure(self, booking_id: str) -> None:
        await self.conn.execute(
            update(bookings)
            .where(bookings.c.booking_id == booking_id)
            .values(code_failures=bookings.c.code_failures + 1)
        )

    async def for_patient(self, patient_id: str, unit_id: str | None) -> list[Doc]:
        rows = await self.conn.execute(patient_bookings_query(patient_id, unit_id))
        return [_doc(r) for r in rows]

    async def future_with_visit_type(self, visit_type_id: str, now: datetime) -> list[Doc]:
        rows = await self.conn.execute(
            select(bookings.c.reference, bookings.c.start)
            .where(
                bookings.c.visit_type_id == visit_type_id,
                ACTIVE,
                bookings.c.start > now,
            )
            .order_by(bookings.c.start)
        )
        return [_doc(r) for r in rows]


# --- health declarations ---------------------------------------------------------------------


class Declarations:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, row: Doc) -> None:
        await self.conn.execute(declarations.insert().values(row))

    async def for_booking(self, booking_id: str) -> Doc | None:
        row = (
            await self.conn.execute(
                select(declarations).where(declarations.c.booking_id == booking_id)
            )
        ).first()
        return _doc(row) if row else None

    async def questionnaire(self, unit_id: str) -> Doc | None:
        row = (
            await self.conn.execute(
                select(questionnaires).where(questionnaires.c.unit_id == unit_id)
            )
        ).first()
        return _doc(row) if row else None

    async def set_questionnaire(self, unit_id: str, questions: list[Doc], by: str) -> int:
        """A new version of the unit's questions (the first is version 1)."""
        new = insert(questionnaires).values(
            unit_id=unit_id, version=1, questions=questions, changed_by=by
        )
        version = await self.conn.scalar(
            new.on_conflict_do_update(
                index_elements=[questionnaires.c.unit_id],
                set_={
                    "questions": new.excluded.questions,
                    "changed_by": new.excluded.changed_by,
                    "changed_at": func.now(),
                    "version": questionnaires.c.version + 1,
                },
            ).returning(questionnaires.c.version)
        )
        return int(version)


__all__ = [
    "NO_OVERLAPPING_SLOTS",
    "ONE_BOOKING_PER_SLOT",
    "PUBLISHES",
    "Bookings",
    "Declarations",
    "Patients",
    "Slots",
    "StaleBooking",
    "TimeBooks",
    "candidates_query",
    "capacity_query",
    "day_slots_query",
    "free_times_query",
    "patient_bookings_query",
    "patient_by_identifier_query",
]
