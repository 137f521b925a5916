"""BK-8: the capacity overview without I/O: opened, booked, closed and free slots per day and
resource, and per day and visit type, from the counts one database statement made.

A count is one group: slots of a day, resource and length, either booked with one visit type or
not booked (visit type None); ``closed`` counts free slots inside a time block."""

from __future__ import annotations

from datetime import date, timedelta

from vaccinera_booking.domain import CapacityCount, DayCapacity, VisitType, capacity

MONDAY = date(2026, 3, 2)
TUESDAY = date(2026, 3, 3)
Q15 = timedelta(minutes=15)
Q30 = timedelta(minutes=30)

DOSE_1 = VisitType("vt-d1", "Covid-19 dos 1", "Covid-19", "nurse", 15, dose=1)
DOSE_2 = VisitType("vt-d2", "Covid-19 dos 2", "Covid-19", "nurse", 15, dose=2)
CONSULTATION = VisitType("vt-long", "Konsultation", "Övrigt", "nurse", 30)
DOCTOR_VISIT = VisitType("vt-doc", "Läkarbedömning", "Övrigt", "doctor", 15)


def free(
    day: date, opened: int, closed: int = 0, resource: str = "nurse", length: timedelta = Q15
) -> CapacityCount:
    return CapacityCount(day, resource, length, None, opened, 0, closed)


def taken(day: date, visit_type: VisitType, n: int, length: timedelta = Q15) -> CapacityCount:
    return CapacityCount(day, visit_type.resource, length, visit_type.visit_type_id, n, n, 0)


def test_bk8_opened_booked_closed_and_free_per_day_and_resource() -> None:
    """Monday, nurse: 20 free 15-min slots (2 of them blocked for lunch), 3 booked with dose 1
    and 2 with dose 2 = 25 opened, 5 booked, 2 closed, 25 - 5 - 2 = 18 free.
    Doctor: 4 opened, 1 booked = 3 free. Tuesday, nurse: 10 opened, none booked = 10 free."""
    days, _ = capacity(
        [
            free(MONDAY, 20, closed=2),
            taken(MONDAY, DOSE_1, 3),
            taken(MONDAY, DOSE_2, 2),
            free(MONDAY, 3, resource="doctor"),
            taken(MONDAY, DOCTOR_VISIT, 1),
            free(TUESDAY, 10),
        ],
        [DOSE_1, DOSE_2, DOCTOR_VISIT],
    )
    assert days == [
        DayCapacity(MONDAY, "doctor", opened=4, booked=1, closed=0),
        DayCapacity(MONDAY, "nurse", opened=25, booked=5, closed=2),
        DayCapacity(TUESDAY, "nurse", opened=10, booked=0, closed=0),
    ]
    assert [d.free for d in days] == [3, 18, 10]


def test_bk8_slots_of_several_lengths_add_up_per_day() -> None:
    """Monday, nurse: 8 free 15-min slots + 4 free 30-min slots + 2 30-min slots booked with the
    consultation = 14 opened, 2 booked, 12 free."""
    days, _ = capacity(
        [free(MONDAY, 8), free(MONDAY, 4, length=Q30), taken(MONDAY, CONSULTATION, 2, Q30)],
        [CONSULTATION],
    )
    assert days == [DayCapacity(MONDAY, "nurse", opened=14, booked=2, closed=0)]
    assert days[0].free == 12


def test_bk8_free_slots_are_shared_by_the_visit_types_of_a_resource() -> None:
    """Monday, nurse: 10 free 15-min slots, 2 of them blocked, and 3 booked with dose 1.
    Dose 1 and dose 2 both fit the 8 bookable free slots: each shows 8 free (the same 8);
    booked: dose 1 3, dose 2 0."""
    _, per_type = capacity([free(MONDAY, 10, closed=2), taken(MONDAY, DOSE_1, 3)], [DOSE_1, DOSE_2])
    assert [(v.day, v.visit_type_id, v.booked, v.free) for v in per_type] == [
        (MONDAY, "vt-d1", 3, 8),
        (MONDAY, "vt-d2", 0, 8),
    ]


def test_bk8_slots_too_short_for_a_longer_visit_type_are_not_free_for_it() -> None:
    """Monday, nurse: 6 free 15-min slots and 2 free 30-min slots. A 15-minute dose fits all
    6 + 2 = 8; a 30-minute consultation fits only the 2 long ones."""
    _, per_type = capacity([free(MONDAY, 6), free(MONDAY, 2, length=Q30)], [DOSE_1, CONSULTATION])
    assert {v.visit_type_id: v.free for v in per_type} == {"vt-d1": 8, "vt-long": 2}


def test_bk8_a_visit_type_counts_only_slots_of_its_own_resource() -> None:
    """Monday: 5 free nurse slots and 2 free doctor slots; Tuesday: 4 free nurse slots only.
    The doctor's visit type shows 2 free on Monday and is not listed on Tuesday, when no doctor
    time is open."""
    _, per_type = capacity(
        [free(MONDAY, 5), free(MONDAY, 2, resource="doctor"), free(TUESDAY, 4)],
        [DOSE_1, DOCTOR_VISIT],
    )
    assert [(v.day, v.visit_type_id, v.free) for v in per_type] == [
        (MONDAY, "vt-d1", 5),
        (MONDAY, "vt-doc", 2),
        (TUESDAY, "vt-d1", 4),
    ]


def test_bk8_visit_types_are_listed_per_day_in_the_time_books_order() -> None:
    _, per_type = capacity([free(TUESDAY, 1), free(MONDAY, 1)], [DOSE_2, DOSE_1])
    assert [(v.day, v.visit_type_id) for v in per_type] == [
        (MONDAY, "vt-d2"),
        (MONDAY, "vt-d1"),
        (TUESDAY, "vt-d2"),
        (TUESDAY, "vt-d1"),
    ]


def test_bk8_a_deleted_visit_type_is_shown_only_where_it_still_has_bookings() -> None:
    """Dose 2 was deleted after its last future booking: Monday still holds 2 past bookings of
    it (shown, booked 2, nothing free: it cannot be booked); Tuesday holds none (not shown)."""
    deleted = VisitType("vt-d2", "Covid-19 dos 2", "Covid-19", "nurse", 15, dose=2, deleted=True)
    _, per_type = capacity(
        [free(MONDAY, 6), taken(MONDAY, deleted, 2), free(TUESDAY, 6)], [DOSE_1, deleted]
    )
    assert [(v.day, v.visit_type_id, v.booked, v.free) for v in per_type] == [
        (MONDAY, "vt-d1", 0, 6),
        (MONDAY, "vt-d2", 2, 0),
        (TUESDAY, "vt-d1", 0, 6),
    ]


def test_bk8_a_fully_booked_day_has_no_free_slot() -> None:
    """Monday, nurse: 4 slots, all booked with dose 1: 4 opened, 4 booked, 0 free."""
    days, per_type = capacity([taken(MONDAY, DOSE_1, 4)], [DOSE_1, DOSE_2])
    assert [(d.opened, d.booked, d.free) for d in days] == [(4, 4, 0)]
    assert [(v.visit_type_id, v.booked, v.free) for v in per_type] == [
        ("vt-d1", 4, 0),
        ("vt-d2", 0, 0),
    ]


def test_bk8_no_slots_no_capacity() -> None:
    assert capacity([], [DOSE_1]) == ([], [])
