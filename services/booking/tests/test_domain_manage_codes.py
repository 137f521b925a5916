"""BK-2, issue 9: managing a booking by reference and SMS code cannot be guessed. Attempts are
limited per client and per reference in fixed windows (429 with Retry-After), wrong codes lock
the booking until staff send a new code, and codes are compared in constant time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from vaccinera_booking.domain import (
    MAX_CODE_ATTEMPTS,
    AttemptLimits,
    Booking,
    Patient,
    ResourceColumns,
    Slot,
    TimeBook,
    TooManyAttempts,
    VisitType,
    attempt_key,
    check_attempts,
    code_hash,
    issue_code,
    normal_reference,
    window,
)
from vaccinera_booking.domain import bookings as bookings_module
from vaccinera_contracts.events import BookingCreated, ManageCodeIssued
from vaccinera_contracts.identifiers import IdentifierKind
from vaccinera_kit.errors import Conflict, Forbidden
from vaccinera_kit.sealed import Opener, Sealer, generate_pem_pair

LIMITS = AttemptLimits(per_client=20, per_reference=10, window=timedelta(minutes=15))
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MONDAY_0800 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 08:00 in Stockholm
DOSE_1 = VisitType("vt-d1", "Covid-19 dos 1, Comirnaty", "Covid-19", "nurse", 15, dose=1)
RESERVE = Patient("pat-1", IdentifierKind.RESERVNUMMER, "05R000000001", protected=False)

# Notifications' key pair: booking seals each manage code to the public half (issue 9).
_PRIVATE, _PUBLIC = generate_pem_pair(bits=2048)
SEALER, OPENER = Sealer(_PUBLIC), Opener(_PRIVATE)


def time_book() -> TimeBook:
    tb = TimeBook.create(
        "tb-1",
        "unit-1",
        "Vaccinationsmottagningen Centrum",
        "Tidbok 1",
        [ResourceColumns("nurse", 1)],
    )
    tb.add_visit_type(DOSE_1)
    return tb


def booked(tb: TimeBook | None = None) -> Booking:
    return Booking.book(
        booking_id="bk-1",
        patient=RESERVE,
        time_book=tb or time_book(),
        visit_type=DOSE_1,
        slot=Slot(1, "nurse", 1, MONDAY_0800, MONDAY_0800 + timedelta(minutes=15)),
        booked_by="staff",
        now=NOW,
        sealer=SEALER,
    )


def manage_code(booking: Booking) -> str:
    event = next(e for e in booking.events if isinstance(e, BookingCreated))
    return OPENER.open(event.sealed_manage_code, context=booking.booking_id)


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_bk2_attempts_up_to_the_limit_pass_and_the_next_is_429_with_retry_after() -> None:
    at = datetime(2026, 3, 1, 12, 10, tzinfo=UTC)  # 5 minutes before the window ends
    for n in range(1, LIMITS.per_client + 1):
        check_attempts("client", n, LIMITS, at)
    with pytest.raises(TooManyAttempts) as refused:
        check_attempts("client", LIMITS.per_client + 1, LIMITS, at)
    error = refused.value
    assert (error.status, error.code) == (429, "too_many_attempts")
    assert error.headers == {"Retry-After": "300"}
    assert error.extra == {"retry_after_seconds": 300}
    assert "connection" in error.message


def test_bk2_a_reference_has_a_limit_of_its_own() -> None:
    check_attempts("reference", LIMITS.per_reference, LIMITS, NOW)
    with pytest.raises(TooManyAttempts) as refused:
        check_attempts("reference", LIMITS.per_reference + 1, LIMITS, NOW)
    assert "booking reference" in refused.value.message


def test_bk2_windows_are_fixed_and_the_same_in_every_replica() -> None:
    at = datetime(2026, 3, 1, 12, 7, 30, tzinfo=UTC)
    w = window(at, LIMITS)
    assert (w.start, w.end) == (
        datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 15, tzinfo=UTC),
    )
    assert window(w.end, LIMITS).start == w.end  # the next window starts where one ends
    assert window(w.end - timedelta(microseconds=1), LIMITS) == w
    # Retry-After is never 0, even in the window's last instant.
    with pytest.raises(TooManyAttempts) as refused:
        check_attempts("client", 99, LIMITS, w.end - timedelta(milliseconds=1))
    assert refused.value.headers["Retry-After"] == "1"


def test_bk2_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        AttemptLimits(per_client=0)
    with pytest.raises(ValueError, match="positive"):
        AttemptLimits(window=timedelta(0))


def test_bk2_a_client_address_is_counted_only_as_a_hash() -> None:
    key = attempt_key("client", "203.0.113.7")
    assert key.startswith("client:")
    assert "203.0.113.7" not in key
    assert key == attempt_key("client", "203.0.113.7")
    assert key != attempt_key("client", "203.0.113.8")
    assert attempt_key("reference", "VB-ABC234") == "reference:VB-ABC234"


def test_bk2_a_reference_is_read_as_typed() -> None:
    assert normal_reference("  vb-abc234 ") == "VB-ABC234"


def test_bk2_codes_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[str, str]] = []
    real = bookings_module.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(bookings_module.hmac, "compare_digest", spy)
    booking = booked()
    code = manage_code(booking)
    assert booking.verify_code(code) is True
    assert booking.verify_code(wrong_code(code)) is False
    assert compared == [
        (code_hash("bk-1", code), booking.code_hash),
        (code_hash("bk-1", wrong_code(code)), booking.code_hash),
    ]


def test_bk2_a_new_code_replaces_the_old_one_and_lifts_the_lock() -> None:
    tb = time_book()
    booking = booked(tb)
    old = manage_code(booking)
    booking.events.clear()
    for _ in range(MAX_CODE_ATTEMPTS):
        assert booking.verify_code(wrong_code(old)) is False
    with pytest.raises(Forbidden) as refused:
        booking.verify_code(old)
    assert refused.value.code == "locked"
    assert "new code" in refused.value.message

    issue_code(booking, tb, SEALER)

    (event,) = booking.events
    assert isinstance(event, ManageCodeIssued)
    assert (event.booking_id, event.reference, event.patient_id) == (
        "bk-1",
        booking.reference,
        "pat-1",
    )
    assert event.issued_by == "staff"
    assert event.visit.start == booking.start
    assert event.visit.unit_name == "Vaccinationsmottagningen Centrum"
    # Sealed to notifications, for this booking only.
    new = OPENER.open(event.sealed_manage_code, context="bk-1")
    assert new not in event.model_dump_json()
    assert len(new) == 6 and new.isdigit()
    assert booking.code_failures == 0
    assert booking.code_hash == code_hash("bk-1", new)
    assert new not in booking.code_hash
    if new != old:  # one in a million draws the same code again
        assert booking.verify_code(old) is False
    assert booking.verify_code(new) is True


def test_bk2_a_cancelled_booking_gets_no_new_code() -> None:
    tb = time_book()
    booking = booked(tb)
    booking.cancel(tb, "staff", NOW)
    before = booking.code_hash
    with pytest.raises(Conflict) as refused:
        issue_code(booking, tb, SEALER)
    assert refused.value.code == "not_active"
    assert booking.code_hash == before
