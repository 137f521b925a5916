"""Request and response bodies of booking's API, and the mappers between them and the domain.
Requests become the domain's objects here (``to_*``); answers are built by the ``*_out``
functions at the end. Longer than most modules because booking's API has 25 operations: one
place for every body a client sees keeps the API's shape reviewable at a glance."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vaccinera_booking.domain import (
    TZ,
    Booking,
    Declaration,
    Opening,
    Question,
    Questionnaire,
    ResourceColumns,
    TimeBlock,
    TimeBook,
    VisitType,
    aware,
)
from vaccinera_booking.services.bookings import BookRequest
from vaccinera_booking.services.time_books import Capacity, DayView


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResourceIn(Strict):
    resource: Literal["nurse", "doctor"]
    columns: int = Field(ge=1, le=20, description="Parallel lanes, e.g. 3: Sköterska 1-3.")


class TimeBookIn(Strict):
    unit_id: str = Field(min_length=1, max_length=100)
    unit_name: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    resources: list[ResourceIn] = Field(min_length=1, max_length=2)

    def to_resources(self) -> list[ResourceColumns]:
        return [ResourceColumns(r.resource, r.columns) for r in self.resources]


class VisitTypeIn(Strict):
    name: str = Field(min_length=1, max_length=200, examples=["Covid-19 dos 1, Comirnaty"])
    category: str = Field(min_length=1, max_length=100, examples=["Covid-19 vaccination"])
    resource: Literal["nurse", "doctor"]
    duration_minutes: int = Field(ge=1, le=240)
    dose: Literal[1, 2] | None = Field(default=None, description="1 or 2: SMS reminders.")

    def to_visit_type(self) -> VisitType:
        return VisitType(visit_type_id=str(uuid.uuid4()), **self.model_dump())


class RenameIn(Strict):
    name: str = Field(min_length=1, max_length=200)


class OpeningIn(Strict):
    resource: Literal["nurse", "doctor"]
    columns: list[int] = Field(min_length=1, max_length=20)
    first_day: date
    last_day: date
    weekdays: list[int] = Field(
        default=[0, 1, 2, 3, 4], min_length=1, description="0 = Monday ... 6 = Sunday"
    )
    day_start: time = Field(examples=["08:00"])
    day_end: time = Field(examples=["16:00"])
    slot_minutes: int = Field(ge=5, le=240, examples=[5])

    def to_opening(self) -> Opening:
        return Opening(
            self.resource,
            self.columns,
            self.first_day,
            self.last_day,
            frozenset(self.weekdays),
            self.day_start,
            self.day_end,
            self.slot_minutes,
        )


class TimeBlockIn(Strict):
    resource: Literal["nurse", "doctor"]
    columns: list[int] | None = Field(default=None, description="All columns if left out.")
    start: datetime
    end: datetime
    label: str = Field(min_length=1, max_length=200, examples=["Lunch"])

    def to_block(self, time_book_id: str) -> TimeBlock:
        return TimeBlock(
            block_id=str(uuid.uuid4()),
            time_book_id=time_book_id,
            resource=self.resource,
            columns=tuple(self.columns) if self.columns is not None else None,
            start=aware(self.start, "start"),
            end=aware(self.end, "end"),
            label=self.label,
        )


class NoteIn(Strict):
    text: str = Field(max_length=2000)


class MassCancellationIn(Strict):
    start: datetime
    end: datetime
    message: str = Field(min_length=1, max_length=300, examples=["Vaccinleveransen uteblev."])
    slots: Literal["close", "reopen"]


class DeclarationIn(Strict):
    version: int = Field(ge=0)
    answers: dict[str, dict[str, Any]]


class BookIn(Strict):
    time_book_id: str = Field(min_length=1, max_length=100)
    visit_type_id: str = Field(min_length=1, max_length=100)
    start: datetime
    patient_id: str | None = Field(
        default=None,
        max_length=100,
        description="Staff: the patient. Citizens book for themselves.",
    )
    health_declaration: DeclarationIn | None = Field(
        default=None, description="Required when a citizen books."
    )

    def to_request(self) -> BookRequest:
        d = self.health_declaration
        return BookRequest(
            self.time_book_id,
            self.visit_type_id,
            self.start,
            self.patient_id,
            None if d is None else (d.version, d.answers),
        )


class RebookIn(Strict):
    start: datetime
    time_book_id: str | None = Field(default=None, max_length=100)


class ManageIn(Strict):
    reference: str = Field(min_length=1, max_length=20)
    code: str = Field(pattern=r"^\d{6}$")


class ManageRebookIn(ManageIn):
    start: datetime


class StandaloneDeclarationIn(DeclarationIn):
    patient_id: str | None = Field(default=None, max_length=100, description="Staff only.")


class QuestionIn(Strict):
    question_id: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    text: str = Field(min_length=1, max_length=500)
    kind: Literal["yes_no", "text"] = "yes_no"
    required: bool = True
    comment_required_if_yes: bool = False


class QuestionnaireIn(Strict):
    questions: list[QuestionIn] = Field(min_length=1, max_length=50)

    def to_questions(self) -> tuple[Question, ...]:
        return tuple(Question(**q.model_dump()) for q in self.questions)


class SelfBookingOut(BaseModel):
    patient_id: str
    identifier_kind: str
    protected: bool
    self_booking_allowed: bool
    reason: str | None


class VisitTypeOut(BaseModel):
    visit_type_id: str
    name: str
    category: str
    resource: str
    duration_minutes: int
    dose: int | None
    deleted: bool


class TimeBookOut(BaseModel):
    time_book_id: str
    unit_id: str
    unit_name: str
    name: str
    resources: list[dict[str, Any]]
    visit_types: list[VisitTypeOut]


class FreeTime(BaseModel):
    start: datetime
    end: datetime
    free_columns: int


class FreeTimesOut(BaseModel):
    time_book_id: str
    visit_type_id: str
    times: list[FreeTime]


class BookingOut(BaseModel):
    booking_id: str
    reference: str
    patient_id: str
    unit_id: str
    time_book_id: str
    visit_type_id: str
    visit_type_name: str
    start: datetime
    end: datetime
    column: int
    status: str
    booked_by: str
    arrived_at: datetime | None = None
    cancelled_by: str | None = None


class CapacityDay(BaseModel):
    day: date
    resource: str
    opened: int
    booked: int
    closed: int
    free: int


class CapacityVisitType(BaseModel):
    day: date
    visit_type_id: str
    name: str
    booked: int
    free: int = Field(
        description="Free slots this visit type fits on the day (shared with the other visit "
        "types of its resource)."
    )


class CapacityOut(BaseModel):
    time_book_id: str
    days: list[CapacityDay]
    booked_per_visit_type: dict[str, int]
    visit_types: list[CapacityVisitType] = Field(
        default_factory=list, description="Per day and visit type (BK-8)."
    )


class MassCancellationOut(BaseModel):
    mass_cancellation_id: str
    cancelled: int
    patients: int
    slots: str


class OpenedOut(BaseModel):
    time_book_id: str
    opened: int


class QuestionnaireOut(BaseModel):
    unit_id: str
    version: int
    questions: list[dict[str, Any]]


class DeclarationOut(BaseModel):
    declaration_id: str
    patient_id: str
    unit_id: str
    booking_id: str | None
    version: int
    submitted_at: datetime
    answers: dict[str, Any]
    questions: list[dict[str, Any]]


class DayViewOut(BaseModel):
    time_book_id: str
    day: date
    note: str | None
    slots: list[dict[str, Any]]
    time_blocks: list[dict[str, Any]]


# --- mappers: the domain's objects as the API shows them ---------------------------------------


def time_book_out(book: TimeBook, include_deleted: bool = True) -> TimeBookOut:
    return TimeBookOut(
        time_book_id=book.time_book_id,
        unit_id=book.unit_id,
        unit_name=book.unit_name,
        name=book.name,
        resources=[{"resource": r.resource, "columns": r.columns} for r in book.resources],
        visit_types=[
            VisitTypeOut(**vars(vt)) for vt in book.visit_types if include_deleted or not vt.deleted
        ],
    )


def booking_out(b: Booking) -> BookingOut:
    return BookingOut(
        booking_id=b.booking_id,
        reference=b.reference,
        patient_id=b.patient_id,
        unit_id=b.unit_id,
        time_book_id=b.time_book_id,
        visit_type_id=b.visit_type_id,
        visit_type_name=b.visit_type_name,
        start=b.start,
        end=b.end,
        column=b.column,
        status=b.status,
        booked_by=b.booked_by,
        arrived_at=b.arrived_at,
        cancelled_by=b.cancelled_by,
    )


def booking_json(b: Booking) -> dict[str, Any]:
    """The answer as stored for an Idempotency-Key's replay."""
    return booking_out(b).model_dump(mode="json")


def booking_answer(answer: Booking | dict[str, Any]) -> BookingOut:
    return booking_out(answer) if isinstance(answer, Booking) else BookingOut.model_validate(answer)


def _block_out(block: TimeBlock) -> dict[str, Any]:
    return {
        "block_id": block.block_id,
        "resource": block.resource,
        "columns": list(block.columns) if block.columns is not None else None,
        "start": block.start.astimezone(TZ).isoformat(),
        "end": block.end.astimezone(TZ).isoformat(),
        "label": block.label,
        "booked_inside": block.booked_inside,
    }


def day_view_out(view: DayView) -> DayViewOut:
    return DayViewOut(
        time_book_id=view.time_book_id,
        day=view.day,
        note=view.note,
        slots=[
            {
                "start": s["start"].isoformat(),
                "end": s["end"].isoformat(),
                "resource": s["resource"],
                "column": s["column"],
                "status": "booked" if s["booking_id"] else s["status"],
                "label": s["label"],
                "booking_id": s["booking_id"],
                "patient_id": s["patient_id"],
                "visit_type_name": s["visit_type_name"],
                "arrived": s["arrived_at"] is not None,
            }
            for s in view.slots
        ],
        time_blocks=[_block_out(b) for b in view.blocks],
    )


def capacity_out(c: Capacity) -> CapacityOut:
    names = {vt.visit_type_id: vt.name for vt in c.book.visit_types}
    booked_per_name: dict[str, int] = {}
    for v in c.visit_types:
        if v.booked:
            booked_per_name[names[v.visit_type_id]] = (
                booked_per_name.get(names[v.visit_type_id], 0) + v.booked
            )
    return CapacityOut(
        time_book_id=c.book.time_book_id,
        days=[
            CapacityDay(
                day=d.day,
                resource=d.resource,
                opened=d.opened,
                booked=d.booked,
                closed=d.closed,
                free=d.free,
            )
            for d in c.days
        ],
        booked_per_visit_type=booked_per_name,
        visit_types=[
            CapacityVisitType(
                day=v.day,
                visit_type_id=v.visit_type_id,
                name=names[v.visit_type_id],
                booked=v.booked,
                free=v.free,
            )
            for v in c.visit_types
        ],
    )


def free_times_out(time_book_id: str, visit_type_id: str, times: list[Any]) -> FreeTimesOut:
    return FreeTimesOut(
        time_book_id=time_book_id,
        visit_type_id=visit_type_id,
        times=[FreeTime(start=t.start, end=t.end, free_columns=t.free_columns) for t in times],
    )


def questionnaire_out(q: Questionnaire) -> QuestionnaireOut:
    return QuestionnaireOut(
        unit_id=q.unit_id, version=q.version, questions=[vars(x) for x in q.questions]
    )


def declaration_out(d: Declaration) -> DeclarationOut:
    return DeclarationOut(
        declaration_id=d.declaration_id,
        patient_id=d.patient_id,
        unit_id=d.unit_id,
        booking_id=d.booking_id,
        version=d.version,
        submitted_at=d.submitted_at,
        answers=d.answers,
        questions=[vars(q) for q in d.questions],
    )
