"""Booking rules, free of I/O."""

from __future__ import annotations

from dataclasses import dataclass

from vaccinera_contracts.identifiers import IdentifierKind


@dataclass(frozen=True)
class SelfBooking:
    allowed: bool
    reason: str | None = None


def self_booking(identifier_kind: IdentifierKind, protected: bool) -> SelfBooking:
    """Whether a patient may book online (BK-2, ID-3): reserve-number and protected patients
    are booked by staff, because online booking needs BankID and contact details."""
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
