"""Booking's repositories over PostgreSQL (SQLAlchemy Core on asyncpg): they load and store the
domain's aggregates, and the statements of the hot paths live in ``queries``."""

from __future__ import annotations

from vaccinera_booking.store.bookings import ONE_BOOKING_PER_SLOT, Bookings, StaleBooking
from vaccinera_booking.store.declarations import Declarations
from vaccinera_booking.store.doses import NextDoses
from vaccinera_booking.store.manage_attempts import ManageAttempts
from vaccinera_booking.store.patients import Patients
from vaccinera_booking.store.queries import (
    candidates_query,
    capacity_query,
    day_slots_query,
    free_times_query,
    next_dose_query,
    patient_bookings_query,
    patient_by_identifier_query,
)
from vaccinera_booking.store.slots import FreeTime, Slots
from vaccinera_booking.store.time_books import TimeBooks
from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.events import (
    ArrivalRegistered,
    BookingCancelled,
    BookingCreated,
    BookingRebooked,
    HealthDeclarationSubmitted,
    ManageCodeIssued,
)

PUBLISHES: tuple[type[DomainEvent], ...] = (
    BookingCreated,
    BookingRebooked,
    BookingCancelled,
    ArrivalRegistered,
    HealthDeclarationSubmitted,
    ManageCodeIssued,
)
NO_OVERLAPPING_SLOTS = "ex_slots_no_overlap"

__all__ = [
    "NO_OVERLAPPING_SLOTS",
    "ONE_BOOKING_PER_SLOT",
    "PUBLISHES",
    "Bookings",
    "Declarations",
    "FreeTime",
    "ManageAttempts",
    "NextDoses",
    "Patients",
    "Slots",
    "StaleBooking",
    "TimeBooks",
    "candidates_query",
    "capacity_query",
    "day_slots_query",
    "free_times_query",
    "next_dose_query",
    "patient_bookings_query",
    "patient_by_identifier_query",
]
