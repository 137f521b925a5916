"""Events published by the booking service on ``vaccinera.booking.v1``, keyed by patient id so
one patient's bookings, rebookings and cancellations keep their order."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from vaccinera_contracts import topics
from vaccinera_contracts.envelope import DomainEvent


class _BookingEvent(DomainEvent):
    topic: ClassVar[str] = topics.BOOKING

    patient_id: str

    def aggregate_key(self) -> str:
        return self.patient_id


class Visit(BaseModel):
    """Where and when, as the patient is told (no patient data)."""

    model_config = ConfigDict(frozen=True)

    unit_id: str
    unit_name: str
    time_book_id: str
    visit_type_id: str
    visit_type_name: str
    # 1 or 2 for the dose-1 and dose-2 visit types that get reminders (NT-1); None otherwise.
    dose: int | None
    start: datetime
    end: datetime


class BookingCreated(_BookingEvent):
    """A time was booked (BK-2, BK-3). The manage code lets a patient without BankID (reserve
    number) rebook or cancel with the reference; it reaches only the confirmation SMS, so it
    travels sealed: ``sealed_manage_code`` is the code encrypted to notifications' public key
    with the booking id as context (``vaccinera_kit.sealed``), opened by the SMS sender alone."""

    event_type: ClassVar[str] = "booking.BookingCreated"

    booking_id: str
    reference: str
    sealed_manage_code: str
    visit: Visit
    booked_by: Literal["citizen", "staff"]


class BookingRebooked(_BookingEvent):
    """The booking moved to another time (BK-5)."""

    event_type: ClassVar[str] = "booking.BookingRebooked"

    booking_id: str
    reference: str
    previous_start: datetime
    visit: Visit
    rebooked_by: Literal["citizen", "staff"]


class BookingCancelled(_BookingEvent):
    """The booking was cancelled (BK-5) or cancelled with many others (BK-6); a mass
    cancellation carries the unit's message and its id, so each patient gets one SMS (NT-3)."""

    event_type: ClassVar[str] = "booking.BookingCancelled"

    booking_id: str
    reference: str
    visit: Visit
    cancelled_by: Literal["citizen", "staff", "mass_cancellation"]
    mass_cancellation_id: str | None = None
    message: str | None = None


class ArrivalRegistered(_BookingEvent):
    """The patient arrived for the visit (BK-11)."""

    event_type: ClassVar[str] = "booking.ArrivalRegistered"

    booking_id: str
    arrived_at: datetime


class DeclarationAnswer(BaseModel):
    """One answered question of a health declaration, as the patient saw and answered it:
    the question's text of that version and the answer in words ("Ja", "Nej", or the text)."""

    question_id: str
    question: str
    answer: str
    comment: str | None = None


class HealthDeclarationSubmitted(_BookingEvent):
    """A health declaration was answered, with a booking or through a unit's link (BK-2,
    BK-12). It carries the answers: the journal keeps them with the vaccination they were the
    basis of (JR-6) and prints them in the journal (JR-7). Health data, like the journal's own
    events: on the platform's topics only, never in a log."""

    event_type: ClassVar[str] = "booking.HealthDeclarationSubmitted"

    declaration_id: str
    unit_id: str
    booking_id: str | None
    questionnaire_version: int
    submitted_at: datetime | None = None
    answers: tuple[DeclarationAnswer, ...] = ()


class ManageCodeIssued(_BookingEvent):
    """Staff gave the booking a new manage code (BK-2), e.g. after wrong codes locked it: the
    old code no longer works. Like ``BookingCreated``'s, the code travels sealed to
    notifications (the booking id as context) and reaches only the SMS."""

    event_type: ClassVar[str] = "booking.ManageCodeIssued"

    booking_id: str
    reference: str
    sealed_manage_code: str
    visit: Visit
    issued_by: Literal["staff"]
