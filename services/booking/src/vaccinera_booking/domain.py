"""Booking rules, free of I/O: who may book online, how slots are opened, what a booking may be
moved to, how a health declaration is checked, and how capacity is counted."""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from vaccinera_contracts.identifiers import IdentifierKind
from vaccinera_kit.errors import Conflict, DomainError, ErrorDetail

TZ = ZoneInfo("Europe/Stockholm")
Resource = Literal["nurse", "doctor"]
MAX_SLOTS_PER_OPENING = 20_000
# Unambiguous characters for references read out over the phone.
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def invalid(field_name: str, rule: str, message: str) -> DomainError:
    return DomainError(message, details=[ErrorDetail(field=field_name, rule=rule, message=message)])


# --- who may book online (BK-2, ID-3) --------------------------------------------------------


@dataclass(frozen=True)
class SelfBooking:
    allowed: bool
    reason: str | None = None


def self_booking(identifier_kind: IdentifierKind, protected: bool) -> SelfBooking:
    """Reserve-number and protected patients are booked by staff: online booking needs BankID
    and contact details."""
    if protected:
        return SelfBooking(
            False,
            "Patients with protected identity cannot book online. Call the vaccination unit: "
            "staff book the time for you.",
        )
    if identifier_kind == IdentifierKind.RESERVNUMMER:
        return SelfBooking(
            False,
            "Patients with a reserve number cannot book online. Call the vaccination unit: "
            "staff book the time for you.",
        )
    return SelfBooking(True)


# --- time books (BK-1) -----------------------------------------------------------------------


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


def open_slots(opening: Opening, available_columns: int, now: datetime) -> list[SlotSpec]:
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
            start = datetime.combine(day, opening.day_start, TZ)
            end_of_day = datetime.combine(day, opening.day_end, TZ)
            while start + step <= end_of_day:
                for column in sorted(set(opening.columns)):
                    slots.append(
                        SlotSpec(
                            opening.resource,
                            column,
                            start.astimezone(UTC),
                            (start + step).astimezone(UTC),
                        )
                    )
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


# --- bookings (BK-2..BK-5) -------------------------------------------------------------------


def check_bookable(
    visit_type: VisitType,
    slot_resource: str,
    slot_start: datetime,
    slot_end: datetime,
    now: datetime,
) -> None:
    if visit_type.deleted:
        raise invalid("visit_type_id", "deleted", "This visit type can no longer be booked.")
    if slot_start <= now:
        raise invalid("start", "in_past", "This time has already passed.")
    if slot_resource != visit_type.resource:
        raise invalid(
            "start",
            "wrong_resource",
            f"{visit_type.name} is booked on {visit_type.resource} times.",
        )
    if slot_end - slot_start < timedelta(minutes=visit_type.duration_minutes):
        raise invalid("visit_type_id", "too_long", f"{visit_type.name} does not fit in this slot.")


def new_reference() -> str:
    return "VB-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))


def new_manage_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def code_hash(booking_id: str, code: str) -> str:
    """Only a hash of the manage code is stored; the code itself goes to the patient's SMS."""
    return hashlib.sha256(f"{booking_id}:{code}".encode()).hexdigest()


MAX_CODE_ATTEMPTS = 5


class BookingTaken(Conflict):
    """Every column was taken at that time (BK-4): the answer names the next free times."""

    code = "time_taken"


# --- health declaration (BK-2, BK-12) --------------------------------------------------------


@dataclass(frozen=True)
class Question:
    question_id: str
    text: str
    kind: Literal["yes_no", "text"] = "yes_no"
    required: bool = True
    comment_required_if_yes: bool = False


@dataclass(frozen=True)
class Questionnaire:
    unit_id: str
    version: int
    questions: tuple[Question, ...] = field(default_factory=tuple)


DEFAULT_QUESTIONS = (
    Question("fever", "Har du feber eller känner du dig sjuk idag?"),
    Question(
        "allergy",
        "Har du haft en allvarlig allergisk reaktion (anafylaxi)?",
        comment_required_if_yes=True,
    ),
    Question("anticoagulants", "Behandlas du med blodförtunnande läkemedel?"),
    Question("pregnant", "Är du gravid?", required=False),
    Question("recent_vaccine", "Har du fått något annat vaccin de senaste 7 dagarna?"),
    Question("other", "Övrigt du vill att vaccinatören ska veta", kind="text", required=False),
)


def check_answers(questionnaire: Questionnaire, version: int, answers: dict[str, Any]) -> None:
    """A declaration answers the unit's current questions; each problem is named."""
    if version != questionnaire.version:
        raise invalid(
            "health_declaration.version",
            "outdated",
            f"The unit's questions changed: answer version {questionnaire.version}.",
        )
    known = {q.question_id: q for q in questionnaire.questions}
    details = [
        ErrorDetail(
            field=f"health_declaration.answers.{k}",
            rule="unknown_question",
            message="No such question.",
        )
        for k in answers
        if k not in known
    ]
    for q in questionnaire.questions:
        answer = answers.get(q.question_id)
        path = f"health_declaration.answers.{q.question_id}"
        if answer is None:
            if q.required:
                details.append(ErrorDetail(field=path, rule="required", message="Answer this."))
            continue
        if q.kind == "yes_no":
            if not isinstance(answer, dict) or not isinstance(answer.get("yes"), bool):
                details.append(
                    ErrorDetail(
                        field=path, rule="yes_no", message='Answer {"yes": true} or {"yes": false}.'
                    )
                )
            elif (
                answer["yes"]
                and q.comment_required_if_yes
                and not str(answer.get("comment", "")).strip()
            ):
                details.append(
                    ErrorDetail(
                        field=path, rule="comment_required", message="Describe it in a comment."
                    )
                )
        elif not isinstance(answer, dict) or not isinstance(answer.get("text", ""), str):
            details.append(ErrorDetail(field=path, rule="text", message='Answer {"text": "..."}.'))
    if details:
        raise DomainError(
            "The health declaration is not complete.", code="invalid_declaration", details=details
        )


# --- capacity overview (BK-8) ----------------------------------------------------------------


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
