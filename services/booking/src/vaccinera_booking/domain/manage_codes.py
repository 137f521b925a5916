"""Managing a booking with its reference and the code from the SMS (BK-2), without a login,
kept from being guessed.

- Attempts are counted per client (the caller's address) and per reference in fixed windows;
  one over either limit answers 429 with ``Retry-After`` before the booking is even looked up.
  A client already over its limit does not use up the reference's attempts, so an attacker
  cannot keep the patient out that way.
- ``MAX_CODE_ATTEMPTS`` wrong codes lock the reference (403 ``locked``) until staff issue a new
  code, which reaches the patient by SMS like the first one (``issue_code``).
- Codes are compared in constant time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from vaccinera_booking.domain.bookings import Booking, CodeSealer, code_hash, new_manage_code
from vaccinera_booking.domain.time_books import TimeBook
from vaccinera_contracts.events import ManageCodeIssued
from vaccinera_kit.errors import TooManyRequests

Scope = Literal["client", "reference"]
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class AttemptLimits:
    """How many manage attempts one client, and one reference, may make per window."""

    per_client: int = 20
    per_reference: int = 10
    window: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        if self.per_client < 1 or self.per_reference < 1 or self.window <= timedelta(0):
            raise ValueError("attempt limits must be positive")


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


def window(now: datetime, limits: AttemptLimits) -> Window:
    """The fixed window ``now`` falls in (the same in every replica: aligned to an epoch)."""
    n = (now - _EPOCH) // limits.window
    start = _EPOCH + n * limits.window
    return Window(start, start + limits.window)


def normal_reference(raw: str) -> str:
    """A reference as typed (spaces, lower case) in the form it is stored."""
    return raw.strip().upper()


def attempt_key(scope: Scope, value: str) -> str:
    """The counter's key. A client's address is kept only as a hash."""
    if scope == "client":
        return "client:" + hashlib.sha256(value.encode()).hexdigest()[:32]
    return "reference:" + value


class TooManyAttempts(TooManyRequests):
    code = "too_many_attempts"


def check_attempts(scope: Scope, attempts: int, limits: AttemptLimits, now: datetime) -> None:
    """``attempts`` counted in this window (this one included): over the limit is 429, with
    the seconds until the window ends in ``Retry-After``."""
    limit = limits.per_client if scope == "client" else limits.per_reference
    if attempts <= limit:
        return
    retry_after = (window(now, limits).end - now).total_seconds()
    if scope == "client":
        message = "Too many attempts from your connection. Wait a while and try again."
    else:
        message = "Too many attempts for this booking reference. Wait a while and try again."
    raise TooManyAttempts(message, retry_after=retry_after)


def issue_code(booking: Booking, time_book: TimeBook, sealer: CodeSealer) -> None:
    """A new manage code for an active booking (staff, BK-2): the old code stops working, wrong
    codes are forgotten (the lock lifts), and the code travels only sealed to notifications, in
    the event that reaches the patient's SMS; the booking keeps its hash."""
    booking._ensure_active("Only an active booking gets a new code.")
    code = new_manage_code()
    booking.code_hash = code_hash(booking.booking_id, code)
    booking.code_failures = 0
    booking.events.append(
        ManageCodeIssued(
            patient_id=booking.patient_id,
            booking_id=booking.booking_id,
            reference=booking.reference,
            sealed_manage_code=sealer.seal(code, context=booking.booking_id),
            visit=time_book.visit(booking._visit_type(time_book), booking.start, booking.end),
            issued_by="staff",
        )
    )
