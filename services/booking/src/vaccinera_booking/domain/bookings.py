"""The booking aggregate: a patient holding one slot of a time book (BK-2..BK-6, BK-11).

A booking records the domain events its changes cause in ``events``; the repository stages
them in the unit of work that stores the change, so the row and its events commit together.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal, Protocol

from vaccinera_booking.domain.common import Actor, invalid
from vaccinera_booking.domain.patients import Patient
from vaccinera_booking.domain.time_books import TimeBook, VisitType
from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.events import (
    ArrivalRegistered,
    BookingCancelled,
    BookingCreated,
    BookingRebooked,
)
from vaccinera_kit.errors import Conflict, DomainError, Forbidden, NotFound

# Unambiguous characters for references read out over the phone.
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
MAX_CODE_ATTEMPTS = 5
Status = Literal["booked", "cancelled"]
CancelledBy = Literal["citizen", "staff", "mass_cancellation"]


def new_reference() -> str:
    return "VB-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))


def new_manage_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


class CodeSealer(Protocol):
    """Seals a manage code to notifications' public key (``vaccinera_kit.sealed.Sealer``):
    pure computation, no I/O. The booking id is the context, so a sealed code opens only for
    its own booking."""

    def seal(self, secret: str, *, context: str) -> str: ...


def code_hash(booking_id: str, code: str) -> str:
    """Only a hash of the manage code is stored; the code itself goes to the patient's SMS."""
    return hashlib.sha256(f"{booking_id}:{code}".encode()).hexdigest()


class BookingTaken(Conflict):
    """Every column was taken at that time (BK-4): the answer names the next free times."""

    code = "time_taken"


def time_taken(next_free: Sequence[datetime]) -> BookingTaken:
    return BookingTaken(
        "That time was just taken in every column. Choose one of the next free times.",
        extra={"next_free_times": [t.isoformat() for t in next_free]},
    )


@dataclass(frozen=True)
class Slot:
    """An open slot at the asked time, as the database saw it in the booking's transaction."""

    slot_id: int
    resource: str
    column: int
    start: datetime
    end: datetime
    taken: bool = False


def check_bookable(visit_type: VisitType, slot: Slot, now: datetime) -> None:
    """A visit type is booked on a future slot of its resource that it fits (BK-1, BK-7)."""
    if visit_type.deleted:
        raise invalid("visit_type_id", "deleted", "This visit type can no longer be booked.")
    if slot.start <= now:
        raise invalid("start", "in_past", "This time has already passed.")
    if slot.resource != visit_type.resource:
        raise invalid(
            "start",
            "wrong_resource",
            f"{visit_type.name} is booked on {visit_type.resource} times.",
        )
    if slot.end - slot.start < timedelta(minutes=visit_type.duration_minutes):
        raise invalid("visit_type_id", "too_long", f"{visit_type.name} does not fit in this slot.")


def free_slots(
    visit_type: VisitType, candidates: Sequence[Slot], start: datetime, now: datetime
) -> list[Slot]:
    """The slots to try at ``start``, column 1 first (BK-4): every slot there must suit the
    visit type; the taken ones are skipped. An empty answer means all columns are taken."""
    if not candidates:
        if start <= now:
            raise invalid("start", "in_past", "This time has already passed.")
        raise invalid("start", "no_such_time", "No time is open then for this visit type.")
    for slot in candidates:
        check_bookable(visit_type, slot, now)
    return sorted((s for s in candidates if not s.taken), key=lambda s: s.column)


@dataclass
class Booking:
    booking_id: str
    reference: str
    code_hash: str
    patient_id: str
    unit_id: str
    time_book_id: str
    visit_type_id: str
    visit_type_name: str
    dose: int | None
    slot_id: int
    column: int
    start: datetime
    end: datetime
    booked_by: Actor
    created_at: datetime
    status: Status = "booked"
    version: int = 1
    arrived_at: datetime | None = None
    cancelled_by: CancelledBy | None = None
    cancelled_at: datetime | None = None
    mass_cancellation_id: str | None = None
    code_failures: int = 0
    events: list[DomainEvent] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def book(
        cls,
        *,
        booking_id: str,
        patient: Patient,
        time_book: TimeBook,
        visit_type: VisitType,
        slot: Slot,
        booked_by: Actor,
        now: datetime,
        sealer: CodeSealer,
    ) -> Booking:
        """A new booking of ``slot`` (BK-2, BK-3). The manage code is drawn here and travels
        only sealed to notifications, in the event that reaches the confirmation SMS; the
        booking keeps its hash."""
        check_bookable(visit_type, slot, now)
        if slot.taken:
            raise time_taken([])
        code = new_manage_code()
        booking = cls(
            booking_id=booking_id,
            reference=new_reference(),
            code_hash=code_hash(booking_id, code),
            patient_id=patient.patient_id,
            unit_id=time_book.unit_id,
            time_book_id=time_book.time_book_id,
            visit_type_id=visit_type.visit_type_id,
            visit_type_name=visit_type.name,
            dose=visit_type.dose,
            slot_id=slot.slot_id,
            column=slot.column,
            start=slot.start,
            end=slot.end,
            booked_by=booked_by,
            created_at=now,
        )
        booking.events.append(
            BookingCreated(
                patient_id=patient.patient_id,
                booking_id=booking_id,
                reference=booking.reference,
                sealed_manage_code=sealer.seal(code, context=booking_id),
                visit=time_book.visit(visit_type, slot.start, slot.end),
                booked_by=booked_by,
            )
        )
        return booking

    def new_reference(self) -> None:
        """Another reference, when the drawn one clashed with an existing booking's."""
        self.reference = new_reference()
        for i, event in enumerate(self.events):
            if isinstance(event, BookingCreated):
                self.events[i] = event.model_copy(update={"reference": self.reference})

    @property
    def active(self) -> bool:
        return self.status == "booked"

    def _ensure_active(self, message: str) -> None:
        if not self.active:
            raise not_active(message)

    def move_to(
        self, time_book: TimeBook, visit_type: VisitType, slot: Slot, by: Actor, now: datetime
    ) -> Booking:
        """The booking as moved to ``slot`` (BK-5): the same reference and patient, the event
        names the time it left. The booking itself is unchanged until the move is stored."""
        self._ensure_active("Only an active booking can be rebooked.")
        if time_book.unit_id != self.unit_id:
            raise invalid("time_book_id", "unknown", "Rebook within the same unit's time books.")
        check_bookable(visit_type, slot, now)
        if slot.taken:
            raise time_taken([])
        moved = replace(
            self,
            time_book_id=time_book.time_book_id,
            visit_type_id=visit_type.visit_type_id,
            visit_type_name=visit_type.name,
            slot_id=slot.slot_id,
            column=slot.column,
            start=slot.start,
            end=slot.end,
            events=[],
        )
        moved.events.append(
            BookingRebooked(
                patient_id=self.patient_id,
                booking_id=self.booking_id,
                reference=self.reference,
                previous_start=self.start,
                visit=time_book.visit(visit_type, slot.start, slot.end),
                rebooked_by=by,
            )
        )
        return moved

    def cancel(
        self,
        time_book: TimeBook,
        by: CancelledBy,
        now: datetime,
        *,
        mass_cancellation_id: str | None = None,
        message: str | None = None,
    ) -> None:
        """Cancel (BK-5), or as part of a mass cancellation with the unit's message (BK-6):
        the slot is free for someone else at once."""
        self._ensure_active("The booking is already cancelled.")
        self.status = "cancelled"
        self.cancelled_by = by
        self.cancelled_at = now
        self.mass_cancellation_id = mass_cancellation_id
        self.events.append(
            BookingCancelled(
                patient_id=self.patient_id,
                booking_id=self.booking_id,
                reference=self.reference,
                visit=time_book.visit(self._visit_type(time_book), self.start, self.end),
                cancelled_by=by,
                mass_cancellation_id=mass_cancellation_id,
                message=message,
            )
        )

    def _visit_type(self, time_book: TimeBook) -> VisitType:
        for vt in time_book.visit_types:
            if vt.visit_type_id == self.visit_type_id:
                return replace(vt, name=self.visit_type_name)
        raise DomainError("The booking's visit type is missing from its time book.")

    def register_arrival(self, now: datetime) -> bool:
        """The patient arrived (BK-11). Registering twice changes nothing (False)."""
        if self.arrived_at is not None:
            return False
        self._ensure_active("The booking is not active.")
        self.arrived_at = now
        self.events.append(
            ArrivalRegistered(
                patient_id=self.patient_id, booking_id=self.booking_id, arrived_at=now
            )
        )
        return True

    def verify_code(self, code: str) -> bool:
        """A patient without BankID manages the booking with the reference and the code from
        the confirmation SMS (BK-2); wrong codes lock it until staff send a new code
        (``manage_codes``). Compared in constant time."""
        if self.code_failures >= MAX_CODE_ATTEMPTS:
            raise Forbidden(
                "Too many wrong codes: call the unit, who can send you a new code by SMS.",
                code="locked",
            )
        if hmac.compare_digest(code_hash(self.booking_id, code), self.code_hash):
            return True
        self.code_failures += 1  # the store counts it too, for requests racing this one
        return False


def not_active(message: str) -> Conflict:
    """The booking is cancelled: it can no longer be changed."""
    return Conflict(message, code="not_active")


def unknown_booking() -> NotFound:
    return NotFound("No booking with that reference and code.", code="unknown_booking")
