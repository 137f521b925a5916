"""The capacity overview (BK-8): opened, booked, closed and free slots per day and resource, and
per day and visit type, from the counts one database statement made."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from vaccinera_booking.domain.time_books import VisitType


@dataclass(frozen=True)
class CapacityCount:
    """One group counted by the database: slots of a day, resource and length, booked with
    one visit type (``visit_type_id``) or not booked (None)."""

    day: date
    resource: str
    length: timedelta
    visit_type_id: str | None
    opened: int
    booked: int
    closed: int


@dataclass(frozen=True)
class DayCapacity:
    day: date
    resource: str
    opened: int
    booked: int
    closed: int

    @property
    def free(self) -> int:
        return self.opened - self.booked - self.closed


@dataclass(frozen=True)
class VisitTypeCapacity:
    """Booked with a visit type on a day, and the free slots it fits (a free slot of its
    resource that is long enough: shared with the resource's other visit types)."""

    day: date
    visit_type_id: str
    booked: int
    free: int


def capacity(
    counts: Iterable[CapacityCount], visit_types: Sequence[VisitType]
) -> tuple[list[DayCapacity], list[VisitTypeCapacity]]:
    """Opened, booked, closed and free slots per day and resource, and per day and visit type
    (in the visit types' order; a deleted one only where it still has bookings)."""
    counts = list(counts)
    opened: Counter[tuple[date, str]] = Counter()
    booked: Counter[tuple[date, str]] = Counter()
    closed: Counter[tuple[date, str]] = Counter()
    booked_with: Counter[tuple[date, str]] = Counter()
    for c in counts:
        key = (c.day, c.resource)
        opened[key] += c.opened
        booked[key] += c.booked
        closed[key] += c.closed
        if c.visit_type_id is not None:
            booked_with[(c.day, c.visit_type_id)] += c.booked
    days = [
        DayCapacity(
            day, resource, opened[(day, resource)], booked[(day, resource)], closed[(day, resource)]
        )
        for day, resource in sorted(opened)
    ]
    per_type = []
    for day in sorted({c.day for c in counts}):
        for vt in visit_types:
            free = sum(
                c.opened - c.closed
                for c in counts
                if c.day == day
                and c.visit_type_id is None
                and c.resource == vt.resource
                and c.length >= timedelta(minutes=vt.duration_minutes)
            )
            n = booked_with[(day, vt.visit_type_id)]
            if n or (not vt.deleted and opened[(day, vt.resource)]):
                per_type.append(
                    VisitTypeCapacity(day, vt.visit_type_id, n, 0 if vt.deleted else free)
                )
    return days, per_type
