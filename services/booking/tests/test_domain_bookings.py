"""BK-2..BK-7, BK-11, ID-3, AC-5, NT-1: the booking aggregate without I/O: booking a slot, the
column a booking takes, rebooking, cancelling (one or many), arrival, the manage code, and who
may book and see a booking.

Times: 2026-03-02 is a Monday; Stockholm is UTC+1 then, so 08:00 local is 07:00 UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from vaccinera_booking.domain import (
    MAX_CODE_ATTEMPTS,
    Actor,
    Booking,
    BookingTaken,
    Patient,
    ResourceColumns,
    Slot,
    TimeBook,
    VisitType,
    check_bookable,
    code_hash,
    ensure_may_book_self,
    ensure_own_patient,
    free_slots,
    new_reference,
    time_taken,
)
from vaccinera_contracts.events import (
    ArrivalRegistered,
    BookingCancelled,
    BookingCreated,
    BookingRebooked,
)
from vaccinera_contracts.identifiers import IdentifierKind
from vaccinera_contracts.roles import Assignment, Principal, Role
from vaccinera_kit.errors import Conflict, DomainError, Forbidden
from vaccinera_kit.sealed import Opener, Sealer, generate_pem_pair

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # Sunday noon
MONDAY_0800 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 08:00 in Stockholm
QUARTER = timedelta(minutes=15)
PERSONNUMMER = "199001012380"
# References are read out over the phone: no I, O, 0 or 1.
REFERENCE = re.compile(r"VB-[ABCDEFGHJKLMNPQRSTUVWXYZ23456789]{6}")

DOSE_1 = VisitType("vt-d1", "Covid-19 dos 1, Comirnaty", "Covid-19", "nurse", 15, dose=1)
DOSE_2 = VisitType("vt-d2", "Covid-19 dos 2, Comirnaty", "Covid-19", "nurse", 15, dose=2)
CONSULTATION = VisitType("vt-long", "Konsultation före vaccination", "Övrigt", "nurse", 30)
DOCTOR_VISIT = VisitType("vt-doc", "Läkarbedömning", "Övrigt", "doctor", 15)

PATIENT = Patient("pat-1", IdentifierKind.PERSONNUMMER, PERSONNUMMER, protected=False)
# Notifications' key pair: booking seals each manage code to the public half.
_PRIVATE, _PUBLIC = generate_pem_pair(bits=2048)
SEALER, OPENER = Sealer(_PUBLIC), Opener(_PRIVATE)


def time_book(time_book_id: str = "tb-1", unit_id: str = "unit-1") -> TimeBook:
    tb = TimeBook.create(
        time_book_id,
        unit_id,
        "Vaccinationsmottagningen Centrum",
        "Tidbok 1",
        [ResourceColumns("nurse", 3), ResourceColumns("doctor", 1)],
    )
    for vt in (DOSE_1, DOSE_2, CONSULTATION, DOCTOR_VISIT):
        tb.add_visit_type(vt)
    return tb


def slot(
    column: int = 1,
    start: datetime = MONDAY_0800,
    *,
    slot_id: int | None = None,
    minutes: int = 15,
    resource: str = "nurse",
    taken: bool = False,
) -> Slot:
    return Slot(
        slot_id if slot_id is not None else column,
        resource,
        column,
        start,
        start + timedelta(minutes=minutes),
        taken,
    )


def booked(
    tb: TimeBook | None = None,
    visit_type: VisitType = DOSE_1,
    at: Slot | None = None,
    booked_by: Actor = "citizen",
) -> Booking:
    return Booking.book(
        booking_id="bk-1",
        patient=PATIENT,
        time_book=tb or time_book(),
        visit_type=visit_type,
        slot=at or slot(),
        booked_by=booked_by,
        now=NOW,
        sealer=SEALER,
    )


def broken(error: DomainError) -> set[tuple[str | None, str]]:
    return {(d.field, d.rule) for d in error.details}


# --- booking a slot (BK-2, BK-3, NT-1) ---


def test_bk2_booking_records_exactly_one_booking_created_event() -> None:
    booking = booked()
    assert len(booking.events) == 1
    assert isinstance(booking.events[0], BookingCreated)
    assert booking.active
    assert booking.status == "booked"


def test_bk2_the_manage_code_goes_sealed_in_the_event_and_only_its_hash_is_kept() -> None:
    booking = booked()
    event = booking.events[0]
    assert isinstance(event, BookingCreated)
    code = OPENER.open(event.sealed_manage_code, context="bk-1")  # as the SMS sender does
    assert re.fullmatch(r"\d{6}", code)
    assert booking.code_hash == code_hash("bk-1", code)
    assert code not in booking.code_hash
    assert code not in event.model_dump_json()  # the event holds it sealed only


def test_bk2_reference_is_vb_and_six_unambiguous_characters() -> None:
    booking = booked()
    event = booking.events[0]
    assert isinstance(event, BookingCreated)
    assert REFERENCE.fullmatch(booking.reference)
    assert event.reference == booking.reference
    # Many draws never use I, O, 0 or 1.
    assert all(REFERENCE.fullmatch(new_reference()) for _ in range(500))


def test_bk2_a_clashing_reference_is_redrawn_in_the_booking_and_its_event() -> None:
    booking = booked()
    booking.new_reference()
    assert REFERENCE.fullmatch(booking.reference)
    assert len(booking.events) == 1
    event = booking.events[0]
    assert isinstance(event, BookingCreated)
    assert event.reference == booking.reference


def test_nt1_the_booking_event_tells_where_when_and_which_dose() -> None:
    """The confirmation and the dose-1 reminder SMS need unit name, visit type, dose, times."""
    booking = booked(visit_type=DOSE_1, at=slot(column=2, slot_id=17), booked_by="staff")
    event = booking.events[0]
    assert isinstance(event, BookingCreated)
    assert event.patient_id == "pat-1"
    assert event.booking_id == "bk-1"
    assert event.booked_by == "staff"
    visit = event.visit
    assert visit.unit_id == "unit-1"
    assert visit.unit_name == "Vaccinationsmottagningen Centrum"
    assert visit.time_book_id == "tb-1"
    assert (visit.visit_type_id, visit.visit_type_name) == ("vt-d1", "Covid-19 dos 1, Comirnaty")
    assert visit.dose == 1
    assert (visit.start, visit.end) == (MONDAY_0800, MONDAY_0800 + QUARTER)
    assert (booking.slot_id, booking.column, booking.dose) == (17, 2, 1)
    assert (booking.start, booking.end) == (MONDAY_0800, MONDAY_0800 + QUARTER)


def test_nt1_a_dose_2_booking_carries_dose_2_and_other_visits_no_dose() -> None:
    dose_2 = booked(visit_type=DOSE_2).events[0]
    other = booked(visit_type=CONSULTATION, at=slot(minutes=30)).events[0]
    assert isinstance(dose_2, BookingCreated)
    assert isinstance(other, BookingCreated)
    assert dose_2.visit.dose == 2
    assert other.visit.dose is None


def test_bk1_a_slot_in_the_past_cannot_be_booked() -> None:
    with pytest.raises(DomainError) as refused:
        booked(at=slot(start=NOW - timedelta(hours=1)))
    assert ("start", "in_past") in broken(refused.value)


def test_bk1_a_visit_type_is_booked_only_on_its_resource() -> None:
    """A doctor's visit type cannot take a nurse slot."""
    with pytest.raises(DomainError) as refused:
        booked(visit_type=DOCTOR_VISIT, at=slot(resource="nurse"))
    assert ("start", "wrong_resource") in broken(refused.value)


def test_bk1_a_visit_type_longer_than_the_slot_is_refused() -> None:
    """A 30-minute consultation does not fit in a 15-minute slot; it fits a 30-minute one."""
    with pytest.raises(DomainError) as refused:
        booked(visit_type=CONSULTATION, at=slot(minutes=15))
    assert ("visit_type_id", "too_long") in broken(refused.value)
    assert booked(visit_type=CONSULTATION, at=slot(minutes=30)).active


def test_bk7_a_deleted_visit_type_cannot_be_booked() -> None:
    tb = time_book()
    deleted = tb.delete_visit_type("vt-d2", [])
    with pytest.raises(DomainError) as refused:
        booked(tb, deleted)
    assert ("visit_type_id", "deleted") in broken(refused.value)
    with pytest.raises(DomainError) as refused_check:
        check_bookable(deleted, slot(), NOW)
    assert ("visit_type_id", "deleted") in broken(refused_check.value)


def test_bk4_a_slot_known_to_be_taken_cannot_be_booked() -> None:
    with pytest.raises(Conflict):
        booked(at=slot(taken=True))


# --- the column a booking takes (BK-4) ---


def test_bk4_free_slots_are_tried_column_1_first() -> None:
    """Three nurse columns open at 08:00, offered in any order: tried as 1, 2, 3."""
    candidates = [slot(3), slot(1), slot(2)]
    assert [s.column for s in free_slots(DOSE_1, candidates, MONDAY_0800, NOW)] == [1, 2, 3]


def test_bk4_taken_columns_are_skipped() -> None:
    """Column 1 taken: the booking goes to column 2, then 3."""
    candidates = [slot(1, taken=True), slot(2), slot(3)]
    assert [s.column for s in free_slots(DOSE_1, candidates, MONDAY_0800, NOW)] == [2, 3]


def test_bk4_when_every_column_is_taken_there_is_no_free_slot() -> None:
    candidates = [slot(c, taken=True) for c in (1, 2, 3)]
    assert free_slots(DOSE_1, candidates, MONDAY_0800, NOW) == []


def test_bk4_no_slot_open_at_a_future_time_is_no_such_time() -> None:
    with pytest.raises(DomainError) as refused:
        free_slots(DOSE_1, [], MONDAY_0800, NOW)
    assert ("start", "no_such_time") in broken(refused.value)


def test_bk4_no_slot_at_a_past_time_is_in_past() -> None:
    with pytest.raises(DomainError) as refused:
        free_slots(DOSE_1, [], NOW - timedelta(days=1), NOW)
    assert ("start", "in_past") in broken(refused.value)


def test_bk4_slots_at_that_time_that_the_visit_type_does_not_fit_are_refused() -> None:
    """Only 15-minute slots at 08:00: a 30-minute consultation cannot be booked there."""
    with pytest.raises(DomainError) as refused:
        free_slots(CONSULTATION, [slot(1), slot(2)], MONDAY_0800, NOW)
    assert ("visit_type_id", "too_long") in broken(refused.value)


def test_bk4_a_time_taken_in_every_column_names_the_next_free_times() -> None:
    next_free = [MONDAY_0800 + QUARTER, MONDAY_0800 + 2 * QUARTER]
    taken = time_taken(next_free)
    assert isinstance(taken, BookingTaken)
    assert isinstance(taken, Conflict)
    assert (taken.status, taken.code) == (409, "time_taken")
    assert [datetime.fromisoformat(t) for t in taken.extra["next_free_times"]] == next_free


# --- rebooking (BK-5) ---


def test_bk5_rebooking_keeps_reference_and_patient_and_names_the_previous_time() -> None:
    tb = time_book()
    booking = booked(tb)
    later = slot(column=3, start=MONDAY_0800 + timedelta(days=1), slot_id=99)
    moved = booking.move_to(tb, DOSE_1, later, "staff", NOW)

    assert (moved.booking_id, moved.reference, moved.patient_id) == (
        booking.booking_id,
        booking.reference,
        booking.patient_id,
    )
    assert moved.code_hash == booking.code_hash
    assert (moved.slot_id, moved.column, moved.start, moved.end) == (
        99,
        3,
        later.start,
        later.end,
    )
    assert len(moved.events) == 1
    event = moved.events[0]
    assert isinstance(event, BookingRebooked)
    assert event.reference == booking.reference
    assert event.patient_id == "pat-1"
    assert event.previous_start == MONDAY_0800
    assert (event.visit.start, event.visit.end) == (later.start, later.end)
    assert event.visit.dose == 1
    assert event.rebooked_by == "staff"


def test_bk5_the_booking_itself_is_unchanged_until_the_move_is_stored() -> None:
    tb = time_book()
    booking = booked(tb)
    booking.move_to(tb, DOSE_1, slot(start=MONDAY_0800 + timedelta(hours=2)), "citizen", NOW)
    assert booking.start == MONDAY_0800
    assert [type(e) for e in booking.events] == [BookingCreated]


def test_bk5_rebooking_to_another_time_book_of_the_same_unit() -> None:
    first, second = time_book("tb-1"), time_book("tb-2")
    second.visit_types = [
        VisitType("vt-b1", DOSE_1.name, "Covid-19", "nurse", 15, dose=1),
    ]
    booking = booked(first)
    visit_type = second.visit_type_for_move(
        booking.time_book_id, booking.visit_type_id, booking.visit_type_name
    )
    moved = booking.move_to(second, visit_type, slot(start=MONDAY_0800 + QUARTER), "staff", NOW)
    assert (moved.time_book_id, moved.visit_type_id) == ("tb-2", "vt-b1")
    event = moved.events[0]
    assert isinstance(event, BookingRebooked)
    assert event.visit.time_book_id == "tb-2"


def test_bk5_rebooking_to_another_units_time_book_is_refused() -> None:
    booking = booked()
    elsewhere = time_book("tb-9", unit_id="unit-2")
    with pytest.raises(DomainError) as refused:
        booking.move_to(elsewhere, DOSE_1, slot(), "staff", NOW)
    assert ("time_book_id", "unknown") in broken(refused.value)


def test_bk5_a_cancelled_booking_cannot_be_rebooked() -> None:
    tb = time_book()
    booking = booked(tb)
    booking.cancel(tb, "citizen", NOW)
    with pytest.raises(Conflict) as refused:
        booking.move_to(tb, DOSE_1, slot(start=MONDAY_0800 + QUARTER), "citizen", NOW)
    assert (refused.value.status, refused.value.code) == (409, "not_active")


def test_bk5_rebooking_to_a_past_time_is_refused() -> None:
    tb = time_book()
    with pytest.raises(DomainError) as refused:
        booked(tb).move_to(tb, DOSE_1, slot(start=NOW - QUARTER), "citizen", NOW)
    assert ("start", "in_past") in broken(refused.value)


# --- cancelling, one or many (BK-5, BK-6) ---


def test_bk5_cancelling_records_booking_cancelled_and_frees_the_booking() -> None:
    tb = time_book()
    booking = booked(tb)
    booking.cancel(tb, "citizen", NOW)
    assert not booking.active
    assert (booking.status, booking.cancelled_by, booking.cancelled_at) == (
        "cancelled",
        "citizen",
        NOW,
    )
    event = booking.events[-1]
    assert isinstance(event, BookingCancelled)
    assert (event.booking_id, event.reference, event.patient_id) == (
        "bk-1",
        booking.reference,
        "pat-1",
    )
    assert event.cancelled_by == "citizen"
    assert event.visit.start == MONDAY_0800
    assert event.mass_cancellation_id is None
    assert event.message is None


def test_bk6_mass_cancellation_carries_its_id_and_the_units_message() -> None:
    tb = time_book()
    booking = booked(tb)
    message = "Vaccinleveransen uteblev. Vi ber om ursäkt, boka en ny tid."
    booking.cancel(tb, "mass_cancellation", NOW, mass_cancellation_id="mc-1", message=message)
    assert booking.mass_cancellation_id == "mc-1"
    assert booking.cancelled_by == "mass_cancellation"
    cancelled = [e for e in booking.events if isinstance(e, BookingCancelled)]
    assert len(cancelled) == 1
    assert cancelled[0].cancelled_by == "mass_cancellation"
    assert cancelled[0].mass_cancellation_id == "mc-1"
    assert cancelled[0].message == message


def test_bk6_cancelling_twice_is_refused_and_records_nothing_more() -> None:
    tb = time_book()
    booking = booked(tb)
    booking.cancel(tb, "staff", NOW)
    with pytest.raises(Conflict) as refused:
        booking.cancel(tb, "mass_cancellation", NOW, mass_cancellation_id="mc-2", message="x")
    assert (refused.value.status, refused.value.code) == (409, "not_active")
    assert [type(e) for e in booking.events] == [BookingCreated, BookingCancelled]
    assert booking.cancelled_by == "staff"
    assert booking.mass_cancellation_id is None


def test_bk7_a_booking_keeps_the_name_it_was_booked_with_when_cancelled() -> None:
    tb = time_book()
    booking = booked(tb, DOSE_1)
    tb.rename_visit_type("vt-d1", "Covid-19 dos 1, Spikevax")
    booking.cancel(tb, "staff", NOW)
    event = booking.events[-1]
    assert isinstance(event, BookingCancelled)
    assert event.visit.visit_type_id == "vt-d1"
    assert event.visit.visit_type_name == "Covid-19 dos 1, Comirnaty"
    assert event.visit.dose == 1


# --- arrival (BK-11) ---


def test_bk11_registering_arrival_records_it_once() -> None:
    booking = booked()
    arrived = MONDAY_0800 - timedelta(minutes=5)
    assert booking.register_arrival(arrived) is True
    assert booking.arrived_at == arrived
    event = booking.events[-1]
    assert isinstance(event, ArrivalRegistered)
    assert (event.booking_id, event.patient_id, event.arrived_at) == ("bk-1", "pat-1", arrived)


def test_bk11_registering_arrival_again_changes_nothing() -> None:
    booking = booked()
    first = MONDAY_0800 - timedelta(minutes=5)
    booking.register_arrival(first)
    assert booking.register_arrival(MONDAY_0800) is False
    assert booking.arrived_at == first
    assert [type(e) for e in booking.events] == [BookingCreated, ArrivalRegistered]


def test_bk11_arrival_is_optional() -> None:
    booking = booked()
    assert booking.arrived_at is None
    assert [type(e) for e in booking.events] == [BookingCreated]


def test_bk11_arrival_for_a_cancelled_booking_is_refused() -> None:
    tb = time_book()
    booking = booked(tb)
    booking.cancel(tb, "citizen", NOW)
    with pytest.raises(Conflict) as refused:
        booking.register_arrival(MONDAY_0800)
    assert refused.value.code == "not_active"
    assert booking.arrived_at is None


# --- the manage code (BK-2: reserve-number patients rebook and cancel online) ---


def manage_code(booking: Booking) -> str:
    event = booking.events[0]
    assert isinstance(event, BookingCreated)
    return OPENER.open(event.sealed_manage_code, context=booking.booking_id)


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_bk2_the_right_manage_code_is_accepted_and_a_wrong_one_not() -> None:
    booking = booked()
    code = manage_code(booking)
    assert booking.verify_code(code) is True
    assert booking.verify_code(wrong_code(code)) is False


def test_bk2_a_booking_with_five_failed_codes_is_locked_even_for_the_right_code() -> None:
    booking = booked()
    code = manage_code(booking)
    booking.code_failures = MAX_CODE_ATTEMPTS - 1
    assert booking.verify_code(code) is True
    booking.code_failures = MAX_CODE_ATTEMPTS
    assert MAX_CODE_ATTEMPTS == 5
    with pytest.raises(Forbidden) as refused:
        booking.verify_code(code)
    assert (refused.value.status, refused.value.code) == (403, "locked")


def test_bk2_five_wrong_codes_lock_the_booking() -> None:
    booking = booked()
    code = manage_code(booking)
    for _ in range(5):
        assert booking.verify_code(wrong_code(code)) is False
    with pytest.raises(Forbidden) as refused:
        booking.verify_code(code)
    assert refused.value.code == "locked"


# --- who may book online, and whose bookings one sees (BK-2, ID-3, AC-5) ---


@pytest.mark.parametrize(
    "patient",
    [
        Patient("pat-2", IdentifierKind.PERSONNUMMER, "198112189876", protected=True),
        Patient("pat-3", IdentifierKind.RESERVNUMMER, "R0000123", protected=False),
    ],
    ids=["protected", "reserve_number"],
)
def test_bk2_id3_protected_and_reserve_number_patients_cannot_book_themselves(
    patient: Patient,
) -> None:
    with pytest.raises(Forbidden) as refused:
        ensure_may_book_self(patient)
    assert (refused.value.status, refused.value.code) == (403, "no_self_booking")


@pytest.mark.parametrize("kind", [IdentifierKind.PERSONNUMMER, IdentifierKind.SAMORDNINGSNUMMER])
def test_bk2_other_patients_may_book_themselves(kind: IdentifierKind) -> None:
    ensure_may_book_self(Patient("pat-4", kind, "199001612384", protected=False))


def test_bk3_staff_book_protected_and_reserve_number_patients() -> None:
    protected = Patient("pat-2", IdentifierKind.PERSONNUMMER, "198112189876", protected=True)
    booking = Booking.book(
        booking_id="bk-2",
        patient=protected,
        time_book=time_book(),
        visit_type=DOSE_1,
        slot=slot(),
        booked_by="staff",
        now=NOW,
        sealer=SEALER,
    )
    assert booking.patient_id == "pat-2"
    assert booking.booked_by == "staff"


def citizen(personnummer: str) -> Principal:
    return Principal(kind="citizen", subject="bankid-1", personnummer=personnummer)


def staff() -> Principal:
    assignment = Assignment(
        id="as-1", role=Role.BOOKING_ONLY, unit_id="unit-1", care_provider_id="cp-1"
    )
    return Principal(
        kind="staff",
        subject="staff-1",
        hsa_id="SE2321000016-1234",
        assignments=(assignment,),
        active_assignment=assignment,
    )


def test_ac5_a_citizen_may_see_their_own_booking() -> None:
    ensure_own_patient(citizen(PERSONNUMMER), PATIENT)


@pytest.mark.parametrize(
    "patient", [None, Patient("pat-5", IdentifierKind.PERSONNUMMER, "198112189876", False)]
)
def test_ac5_a_citizen_may_not_see_anyone_elses_booking(patient: Patient | None) -> None:
    with pytest.raises(Forbidden) as refused:
        ensure_own_patient(citizen(PERSONNUMMER), patient)
    assert refused.value.code == "not_your_data"


def test_ac5_staff_pass_the_own_patient_check() -> None:
    ensure_own_patient(staff(), PATIENT)
    ensure_own_patient(staff(), None)
