"""The time book ("tidbok") aggregate: a unit's resources with parallel columns, its visit types,
and how slots are opened in bulk (BK-1, BK-7)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

from vaccinera_booking.domain.common import TZ, Resource, invalid, local_minute
from vaccinera_contracts.events import Visit
from vaccinera_kit.errors import Conflict

MAX_SLOTS_PER_OPENING = 20_000


@dataclass(frozen=True)
class VisitType:
    """ "Besökstyp": duration, resource and a free-text name such as
    "Covid-19 dos 2, Comirnaty, ENDAST ons-fre". ``dose`` 1 or 2 gets SMS reminders (NT-1)."""

    visit_type_id: str
    name: str
    category: str
    resource: Resource
    duration_minutes: int
    dose: int | None = None
    deleted: bool = False


@dataclass(frozen=True)
class ResourceColumns:
    """A resource and its parallel columns, e.g. nurse 1-3 ("Sköterska 1-3")."""

    resource: Resource
    columns: int


@dataclass(frozen=True)
class SlotSpec:
    resource: Resource
    column: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Opening:
    """Open bookable slots in bulk, e.g. weekdays 08:00-16:00 every 5 minutes in 3 columns for
    4 weeks, in one request."""

    resource: Resource
    columns: Sequence[int]
    first_day: date
    last_day: date
    weekdays: frozenset[int]  # 0 = Monday
    day_start: time
    day_end: time
    slot_minutes: int


@dataclass(frozen=True)
class FutureBooking:
    """A booking that still uses a visit type, named to the administrator (BK-7)."""

    reference: str
    start: datetime


@dataclass
class TimeBook:
    time_book_id: str
    unit_id: str
    unit_name: str
    name: str
    resources: tuple[ResourceColumns, ...]
    visit_types: list[VisitType] = field(default_factory=list)
    # Visit types change only on the time book as it was read (optimistic lock).
    version: int = 1

    @classmethod
    def create(
        cls,
        time_book_id: str,
        unit_id: str,
        unit_name: str,
        name: str,
        resources: Sequence[ResourceColumns],
    ) -> TimeBook:
        if len({r.resource for r in resources}) != len(resources):
            raise invalid("resources", "duplicate", "Each resource once.")
        return cls(time_book_id, unit_id, unit_name, name, tuple(resources))

    def columns(self, resource: str) -> int:
        return next((r.columns for r in self.resources if r.resource == resource), 0)

    def _require_resource(self, resource: str) -> int:
        columns = self.columns(resource)
        if not columns:
            raise invalid("resource", "unknown", f"This time book has no {resource} resource.")
        return columns

    def visit_type(self, visit_type_id: str) -> VisitType:
        for vt in self.visit_types:
            if vt.visit_type_id == visit_type_id:
                return vt
        raise invalid("visit_type_id", "unknown", f"No visit type {visit_type_id} here.")

    def bookable_visit_types(self) -> list[VisitType]:
        return [vt for vt in self.visit_types if not vt.deleted]

    # --- visit types (BK-1, BK-7) ---

    def add_visit_type(self, visit_type: VisitType) -> VisitType:
        self._require_resource(visit_type.resource)
        self.visit_types.append(visit_type)
        return visit_type

    def rename_visit_type(self, visit_type_id: str, name: str) -> VisitType:
        """Allowed at any time: future bookings show the new name, past ones keep theirs."""
        renamed = replace(self.visit_type(visit_type_id), name=name)
        self._put(renamed)
        return renamed

    def delete_visit_type(self, visit_type_id: str, future: Sequence[FutureBooking]) -> VisitType:
        """Refused while future bookings use it, naming them: the FAQ's system moved such
        bookings silently and freed their slots, which caused double bookings (BK-7)."""
        current = self.visit_type(visit_type_id)
        if future:
            raise Conflict(
                f"{len(future)} future booking(s) use this visit type: rebook or cancel them "
                "first, or rename the visit type instead.",
                code="visit_type_in_use",
                extra={
                    "bookings": [
                        {"reference": b.reference, "start": b.start.isoformat()} for b in future
                    ]
                },
            )
        deleted = replace(current, deleted=True)
        self._put(deleted)
        return deleted

    def _put(self, visit_type: VisitType) -> None:
        self.visit_types = [
            visit_type if vt.visit_type_id == visit_type.visit_type_id else vt
            for vt in self.visit_types
        ]

    def visit_type_for_move(self, from_book_id: str, visit_type_id: str, name: str) -> VisitType:
        """The visit type a booking keeps when it moves here (BK-5): itself within one time
        book; in another of the unit's books, the one of the same name still bookable."""
        if from_book_id == self.time_book_id:
            return self.visit_type(visit_type_id)
        for vt in self.bookable_visit_types():
            if vt.name == name:
                return vt
        raise invalid("time_book_id", "no_visit_type", "That time book lacks this visit type.")

    # --- opening slots (BK-1) ---

    def plan_opening(self, opening: Opening, now: datetime) -> list[SlotSpec]:
        return open_slots(opening, self._require_resource(opening.resource), now)

    def visit(self, visit_type: VisitType, start: datetime, end: datetime) -> Visit:
        """Where and when, as the patient is told."""
        return Visit(
            unit_id=self.unit_id,
            unit_name=self.unit_name,
            time_book_id=self.time_book_id,
            visit_type_id=visit_type.visit_type_id,
            visit_type_name=visit_type.name,
            dose=visit_type.dose,
            start=start,
            end=end,
        )


def open_slots(opening: Opening, available_columns: int, now: datetime) -> list[SlotSpec]:
    """Every slot of an opening, in start and column order; refused whole when any rule fails."""
    if any(not 0 <= d <= 6 for d in opening.weekdays):
        raise invalid("weekdays", "range", "Weekdays are 0 (Monday) to 6 (Sunday).")
    if opening.last_day < opening.first_day:
        raise invalid("last_day", "before_first_day", "The last day is before the first day.")
    if opening.day_end <= opening.day_start:
        raise invalid("day_end", "before_day_start", "The day ends before it starts.")
    if not 5 <= opening.slot_minutes <= 240:
        raise invalid("slot_minutes", "range", "A slot is 5 to 240 minutes long.")
    bad_columns = [c for c in opening.columns if not 1 <= c <= available_columns]
    if bad_columns or not opening.columns:
        raise invalid(
            "columns",
            "unknown_column",
            f"This resource has columns 1 to {available_columns}.",
        )
    slots: list[SlotSpec] = []
    day = opening.first_day
    step = timedelta(minutes=opening.slot_minutes)
    while day <= opening.last_day:
        if day.weekday() in opening.weekdays:
            # Stepped in real time (UTC), not on the wall clock: on a daylight-saving night a
            # slot still lasts its minutes and none is planned twice or in the skipped hour.
            start = datetime.combine(day, opening.day_start, TZ).astimezone(UTC)
            end_of_day = datetime.combine(day, opening.day_end, TZ).astimezone(UTC)
            while start + step <= end_of_day:
                for column in sorted(set(opening.columns)):
                    slots.append(SlotSpec(opening.resource, column, start, start + step))
                start += step
        day += timedelta(days=1)
        if len(slots) > MAX_SLOTS_PER_OPENING:
            raise invalid(
                "last_day", "too_many", f"At most {MAX_SLOTS_PER_OPENING} slots per request."
            )
    if not slots:
        raise invalid("weekdays", "no_slots", "These days and times give no slot.")
    if slots[0].start <= now:
        raise invalid("first_day", "in_past", "Slots cannot be opened in the past.")
    return slots


def overlaps(new: Iterable[SlotSpec], existing: Iterable[SlotSpec]) -> list[SlotSpec]:
    """New slots that overlap an existing slot of the same column."""
    by_column: dict[tuple[str, int], list[SlotSpec]] = {}
    for slot in existing:
        by_column.setdefault((slot.resource, slot.column), []).append(slot)
    return [
        s
        for s in new
        if any(
            o.start < s.end and s.start < o.end for o in by_column.get((s.resource, s.column), ())
        )
    ]


def overlapping(count: int, example: SlotSpec | None) -> Conflict:
    """The answer to an opening that clashes with times already open: nothing is opened."""
    where = f", e.g. column {example.column} at {local_minute(example.start)}" if example else ""
    return Conflict(
        f"{count or 'Some'} of the new times overlap times already open{where}. "
        "Nothing was opened.",
        code="overlapping_slots",
    )


@dataclass(frozen=True)
class TimeBlock:
    """A labelled block ("blockering", e.g. lunch): its free slots can no longer be booked;
    bookings already inside it stand and are counted."""

    block_id: str
    time_book_id: str
    resource: Resource
    columns: tuple[int, ...] | None
    start: datetime
    end: datetime
    label: str
    booked_inside: int = 0

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise invalid("end", "before_start", "The block ends before it starts.")
