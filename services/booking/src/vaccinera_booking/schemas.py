"""Request and response bodies of booking's API."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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


class VisitTypeIn(Strict):
    name: str = Field(min_length=1, max_length=200, examples=["Covid-19 dos 1, Comirnaty"])
    category: str = Field(min_length=1, max_length=100, examples=["Covid-19 vaccination"])
    resource: Literal["nurse", "doctor"]
    duration_minutes: int = Field(ge=1, le=240)
    dose: Literal[1, 2] | None = Field(default=None, description="1 or 2: SMS reminders.")


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


class TimeBlockIn(Strict):
    resource: Literal["nurse", "doctor"]
    columns: list[int] | None = Field(default=None, description="All columns if left out.")
    start: datetime
    end: datetime
    label: str = Field(min_length=1, max_length=200, examples=["Lunch"])


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
