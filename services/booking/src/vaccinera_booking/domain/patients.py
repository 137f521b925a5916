"""Who is booked: the patient as booking knows them from identity, and who may book online
(BK-2, ID-3)."""

from __future__ import annotations

from dataclasses import dataclass

from vaccinera_contracts.identifiers import IdentifierKind
from vaccinera_contracts.roles import Principal
from vaccinera_kit.errors import Forbidden


@dataclass(frozen=True)
class Patient:
    """Booking's projection of identity's patient: no names, no contact data."""

    patient_id: str
    identifier_kind: IdentifierKind
    identifier_value: str
    protected: bool


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


def ensure_may_book_self(patient: Patient) -> None:
    """A citizen booking for themselves must be allowed to book online (BK-2, ID-3)."""
    verdict = self_booking(patient.identifier_kind, patient.protected)
    if not verdict.allowed:
        raise Forbidden(verdict.reason or "", code="no_self_booking")


def ensure_own_patient(principal: Principal, patient: Patient | None) -> None:
    """A citizen sees and changes only their own bookings (AC-5); staff pass."""
    if principal.kind == "citizen" and (
        patient is None or principal.personnummer != patient.identifier_value
    ):
        raise Forbidden("You can only see and change your own details.", code="not_your_data")
