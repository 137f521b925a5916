"""BK-1, BK-5, BK-7: the time book aggregate without I/O: opening slots in bulk, overlaps, time
blocks, visit types (add, rename, delete) and the visit type a moved booking keeps.

Times: the unit books in Europe/Stockholm (UTC+1 in winter, UTC+2 in summer); 2026-03-02 is a
Monday, summer time starts on Sunday 2026-03-29 and ends on Sunday 2026-10-25."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from vaccinera_booking.domain import (
    TZ,
    FutureBooking,
    Opening,
    Resource,
    ResourceColumns,
    SlotSpec,
    TimeBlock,
    TimeBook,
    VisitType,
    aware,
    open_slots,
    overlapping,
    overlaps,
)
from vaccinera_kit.errors import Conflict, DomainError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # Sunday noon
MONDAY = date(2026, 3, 2)
TUESDAY = date(2026, 3, 3)
WEEKDAYS = frozenset({0, 1, 2, 3, 4})
DOSE_1 = VisitType("vt-d1", "Covid-19 dos 1, Comirnaty", "Covid-19", "nurse", 15, dose=1)
DOSE_2 = VisitType(
    "vt-d2", "Covid-19 dos 2, Comirnaty, ENDAST ons-fre", "Covid-19", "nurse", 15, dose=2
)


def book(
    time_book_id: str = "tb-1",
    unit_id: str = "unit-1",
    nurses: int = 3,
    doctors: int = 0,
) -> TimeBook:
    resources = [ResourceColumns("nurse", nurses)]
    if doctors:
        resources.append(ResourceColumns("doctor", doctors))
    return TimeBook.create(time_book_id, unit_id, "Vaccinationsmottagningen", "Tidbok 1", resources)


def opening(
    *,
    columns: tuple[int, ...] = (1, 2, 3),
    first_day: date = MONDAY,
    last_day: date = TUESDAY,
    weekdays: frozenset[int] = WEEKDAYS,
    day_start: time = time(8, 0),
    day_end: time = time(9, 0),
    slot_minutes: int = 15,
    resource: Resource = "nurse",
) -> Opening:
    return Opening(
        resource, columns, first_day, last_day, weekdays, day_start, day_end, slot_minutes
    )


def broken(error: DomainError) -> set[tuple[str | None, str]]:
    return {(d.field, d.rule) for d in error.details}


def local(moment: datetime) -> tuple[date, time]:
    stockholm = moment.astimezone(TZ)
    return stockholm.date(), stockholm.time()


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


# --- opening slots in bulk (BK-1) ---


def test_bk1_opening_weekdays_every_15_minutes_in_3_columns_gives_every_slot() -> None:
    """Monday and Tuesday 08:00-09:00 local every 15 minutes in nurse columns 1-3:
    2 days x 4 starts (08:00, 08:15, 08:30, 08:45) x 3 columns = 24 slots."""
    slots = book().plan_opening(opening(), NOW)

    assert len(slots) == 24
    assert {(s.resource, s.end - s.start) for s in slots} == {("nurse", timedelta(minutes=15))}
    starts = sorted({local(s.start) for s in slots})
    assert starts == [(day, time(8, m)) for day in (MONDAY, TUESDAY) for m in (0, 15, 30, 45)]
    for start in starts:
        assert sorted(s.column for s in slots if local(s.start) == start) == [1, 2, 3]
    # 08:00 in Stockholm in March is 07:00 UTC: the slots are stored in UTC.
    assert slots[0].start == utc(MONDAY, 7)
    assert slots[-1].end == utc(TUESDAY, 8)


def test_bk1_opening_every_5_minutes_gives_the_whole_day() -> None:
    """Monday 08:00-16:00 every 5 minutes in columns 1-3: 8 h x 12 slots/h x 3 = 288 slots."""
    slots = book().plan_opening(opening(last_day=MONDAY, day_end=time(16, 0), slot_minutes=5), NOW)
    assert len(slots) == 288
    assert local(slots[-1].start) == (MONDAY, time(15, 55))
    assert local(slots[-1].end) == (MONDAY, time(16, 0))


def test_bk1_opening_skips_days_outside_the_chosen_weekdays() -> None:
    """Monday 2 to Sunday 8 March, weekdays only, 08:00-08:30 every 10 minutes, column 2:
    5 days (Mon-Fri) x 3 starts x 1 column = 15 slots; Saturday and Sunday get none."""
    slots = book().plan_opening(
        opening(
            columns=(2,),
            last_day=date(2026, 3, 8),
            day_end=time(8, 30),
            slot_minutes=10,
        ),
        NOW,
    )
    assert len(slots) == 15
    assert {local(s.start)[0] for s in slots} == {date(2026, 3, d) for d in range(2, 7)}
    assert {s.column for s in slots} == {2}


def test_bk1_opening_only_chosen_weekdays_wednesday_to_friday() -> None:
    """ "ENDAST ons-fre": Monday 2 to Sunday 15 March, Wednesday-Friday, one 60-minute slot
    08:00-09:00 in column 1: 2 weeks x 3 days = 6 slots."""
    slots = book().plan_opening(
        opening(
            columns=(1,),
            last_day=date(2026, 3, 15),
            weekdays=frozenset({2, 3, 4}),
            slot_minutes=60,
        ),
        NOW,
    )
    assert [local(s.start)[0] for s in slots] == [date(2026, 3, d) for d in (4, 5, 6, 11, 12, 13)]


def test_bk1_a_slot_that_would_run_past_the_end_of_the_day_is_not_opened() -> None:
    """08:00-09:00 every 25 minutes, column 1, Monday: 08:00 and 08:25 fit; 08:50 would end
    09:15, after the day's end: 2 slots."""
    slots = book().plan_opening(opening(columns=(1,), last_day=MONDAY, slot_minutes=25), NOW)
    assert [local(s.start)[1] for s in slots] == [time(8, 0), time(8, 25)]


@pytest.mark.parametrize(("minutes", "expected"), [(5, 12), (240, 1)])
def test_bk1_slot_length_bounds_5_and_240_minutes_are_accepted(minutes: int, expected: int) -> None:
    """Monday, column 1: every 5 minutes over 08:00-09:00 gives 60 / 5 = 12 slots; 240
    minutes over 08:00-12:00 gives exactly 1 slot."""
    end = time(9, 0) if minutes == 5 else time(12, 0)
    slots = book().plan_opening(
        opening(columns=(1,), last_day=MONDAY, day_end=end, slot_minutes=minutes), NOW
    )
    assert len(slots) == expected
    assert all(s.end - s.start == timedelta(minutes=minutes) for s in slots)


@pytest.mark.parametrize("minutes", [0, 4, 241, 480])
def test_bk1_slot_length_outside_5_to_240_minutes_is_refused(minutes: int) -> None:
    with pytest.raises(DomainError) as refused:
        book().plan_opening(opening(day_end=time(16, 0), slot_minutes=minutes), NOW)
    assert refused.value.status == 422
    assert ("slot_minutes", "range") in broken(refused.value)


def test_bk1_opening_in_the_past_is_refused() -> None:
    """Opened on Monday morning for the previous Friday: refused, nothing planned."""
    monday_morning = utc(MONDAY, 6)
    with pytest.raises(DomainError) as refused:
        book().plan_opening(opening(first_day=date(2026, 2, 27), last_day=TUESDAY), monday_morning)
    assert ("first_day", "in_past") in broken(refused.value)


def test_bk1_opening_that_starts_earlier_today_than_now_is_refused() -> None:
    """At 08:30 local (07:30 UTC) on Monday, an opening from 08:00 today is partly past."""
    with pytest.raises(DomainError) as refused:
        book().plan_opening(opening(last_day=MONDAY), utc(MONDAY, 7, 30))
    assert ("first_day", "in_past") in broken(refused.value)


def test_bk1_opening_of_exactly_20000_slots_is_accepted() -> None:
    """08:00-16:20 every 5 minutes = 500 min / 5 = 100 starts; x 2 columns = 200 a day;
    every day for 100 days = 20,000 slots: the limit, still allowed."""
    slots = book().plan_opening(
        opening(
            columns=(1, 2),
            last_day=MONDAY + timedelta(days=99),
            weekdays=frozenset(range(7)),
            day_end=time(16, 20),
            slot_minutes=5,
        ),
        NOW,
    )
    assert len(slots) == 20_000


def test_bk1_opening_of_more_than_20000_slots_is_refused() -> None:
    """The same for 101 days = 20,200 slots: refused whole."""
    with pytest.raises(DomainError) as refused:
        book().plan_opening(
            opening(
                columns=(1, 2),
                last_day=MONDAY + timedelta(days=100),
                weekdays=frozenset(range(7)),
                day_end=time(16, 20),
                slot_minutes=5,
            ),
            NOW,
        )
    assert ("last_day", "too_many") in broken(refused.value)


@pytest.mark.parametrize("columns", [(4,), (1, 4), (0,), ()])
def test_bk1_opening_in_a_column_the_resource_lacks_is_refused(columns: tuple[int, ...]) -> None:
    """The nurse resource has columns 1-3: column 0, 4 or no column at all is refused."""
    with pytest.raises(DomainError) as refused:
        book().plan_opening(opening(columns=columns), NOW)
    assert ("columns", "unknown_column") in broken(refused.value)


def test_bk1_opening_for_a_resource_the_time_book_lacks_is_refused() -> None:
    """A nurse-only time book has no doctor columns."""
    with pytest.raises(DomainError) as refused:
        book().plan_opening(opening(resource="doctor", columns=(1,)), NOW)
    assert ("resource", "unknown") in broken(refused.value)


def test_bk1_opening_the_doctor_columns_of_a_book_with_both_resources() -> None:
    """Doctor columns 1-2, Monday 08:00-09:00 every 30 minutes: 2 starts x 2 = 4 slots."""
    slots = book(doctors=2).plan_opening(
        opening(resource="doctor", columns=(1, 2), last_day=MONDAY, slot_minutes=30), NOW
    )
    assert len(slots) == 4
    assert {s.resource for s in slots} == {"doctor"}


@pytest.mark.parametrize(
    "empty",
    [
        # Saturday and Sunday only, over a Monday and Tuesday.
        opening(weekdays=frozenset({5, 6})),
        # No weekday chosen at all.
        opening(weekdays=frozenset()),
        # A 15-minute slot does not fit in 08:00-08:10.
        opening(day_end=time(8, 10)),
    ],
)
def test_bk1_opening_that_gives_no_slot_is_refused(empty: Opening) -> None:
    with pytest.raises(DomainError) as refused:
        book().plan_opening(empty, NOW)
    assert ("weekdays", "no_slots") in broken(refused.value)


def test_bk1_opening_with_the_last_day_before_the_first_is_refused() -> None:
    with pytest.raises(DomainError) as refused:
        book().plan_opening(opening(first_day=TUESDAY, last_day=MONDAY), NOW)
    assert ("last_day", "before_first_day") in broken(refused.value)


def test_bk1_opening_whose_day_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(DomainError) as refused:
        book().plan_opening(opening(day_start=time(9, 0), day_end=time(8, 0)), NOW)
    assert ("day_end", "before_day_start") in broken(refused.value)


def test_bk1_opening_with_an_unknown_weekday_is_refused() -> None:
    with pytest.raises(DomainError) as refused:
        book().plan_opening(opening(weekdays=frozenset({0, 7})), NOW)
    assert ("weekdays", "range") in broken(refused.value)


def test_bk1_opening_over_the_spring_dst_change_keeps_local_times() -> None:
    """Saturday 28 and Sunday 29 March (summer time from 02:00 on Sunday), 08:00-09:00 local
    every 30 minutes, column 1: 2 days x 2 = 4 slots, all at 08:00/08:30 in Stockholm, i.e.
    07:00/07:30 UTC on Saturday (UTC+1) but 06:00/06:30 UTC on Sunday (UTC+2)."""
    saturday, sunday = date(2026, 3, 28), date(2026, 3, 29)
    slots = book().plan_opening(
        opening(
            columns=(1,),
            first_day=saturday,
            last_day=sunday,
            weekdays=frozenset({5, 6}),
            slot_minutes=30,
        ),
        NOW,
    )
    assert [s.start for s in slots] == [
        utc(saturday, 7),
        utc(saturday, 7, 30),
        utc(sunday, 6),
        utc(sunday, 6, 30),
    ]
    assert [local(s.start)[1] for s in slots] == [time(8, 0), time(8, 30)] * 2
    assert all(s.end - s.start == timedelta(minutes=30) for s in slots)


def test_bk1_opening_over_the_autumn_dst_change_keeps_local_times() -> None:
    """Saturday 24 (UTC+2) and Sunday 25 October (UTC+1 from 03:00), 08:00-09:00 local every
    60 minutes: 08:00 local is 06:00 UTC on Saturday and 07:00 UTC on Sunday."""
    saturday, sunday = date(2026, 10, 24), date(2026, 10, 25)
    slots = book().plan_opening(
        opening(
            columns=(1,),
            first_day=saturday,
            last_day=sunday,
            weekdays=frozenset({5, 6}),
            slot_minutes=60,
        ),
        NOW,
    )
    assert [s.start for s in slots] == [utc(saturday, 6), utc(sunday, 7)]


def test_bk1_opening_across_the_skipped_spring_hour_gives_only_real_full_length_slots() -> None:
    """Sunday 29 March 01:00-04:00 local every 60 minutes: 02:00-03:00 does not exist that
    night. Every slot opened must last 60 minutes and no two may start at once."""
    sunday = date(2026, 3, 29)
    slots = open_slots(
        opening(
            columns=(1,),
            first_day=sunday,
            last_day=sunday,
            weekdays=frozenset({6}),
            day_start=time(1, 0),
            day_end=time(4, 0),
            slot_minutes=60,
        ),
        1,
        NOW,
    )
    assert all(s.end - s.start == timedelta(minutes=60) for s in slots)
    assert len({s.start for s in slots}) == len(slots)


def test_bk1_opening_across_the_repeated_autumn_hour_gives_slots_of_the_asked_length() -> None:
    """Sunday 25 October 01:00-04:00 local every 60 minutes: 02:00-03:00 happens twice that
    night. Every slot opened must last 60 minutes."""
    sunday = date(2026, 10, 25)
    slots = open_slots(
        opening(
            columns=(1,),
            first_day=sunday,
            last_day=sunday,
            weekdays=frozenset({6}),
            day_start=time(1, 0),
            day_end=time(4, 0),
            slot_minutes=60,
        ),
        1,
        NOW,
    )
    assert all(s.end - s.start == timedelta(minutes=60) for s in slots)


def test_bk1_a_time_without_a_time_zone_is_refused() -> None:
    """A naive time is ambiguous twice a year: refused; an aware one is read as UTC."""
    with pytest.raises(DomainError) as refused:
        aware(datetime(2026, 3, 2, 8, 0), "start")
    assert ("start", "timezone") in broken(refused.value)
    assert aware(datetime(2026, 3, 2, 8, 0, tzinfo=TZ), "start") == utc(MONDAY, 7)


# --- overlaps (BK-1) ---


def spec(
    column: int, hour: int, minute: int, minutes: int = 15, resource: Resource = "nurse"
) -> SlotSpec:
    start = utc(MONDAY, hour, minute)
    return SlotSpec(resource, column, start, start + timedelta(minutes=minutes))


def test_bk1_new_slots_overlapping_open_ones_in_the_same_column_are_found() -> None:
    """Open: column 1 07:00-07:15 UTC. New: column 1 07:10-07:25 overlaps, column 1
    07:05-07:10 lies inside; column 1 07:15-07:30 only touches, column 2 07:10 is another
    lane, doctor column 1 07:10 another resource: 2 overlaps."""
    existing = [spec(1, 7, 0)]
    clash, inside = spec(1, 7, 10), spec(1, 7, 5, minutes=5)
    new = [clash, inside, spec(1, 7, 15), spec(2, 7, 10), spec(1, 7, 10, resource="doctor")]
    assert overlaps(new, existing) == [clash, inside]


def test_bk1_new_slots_in_other_columns_do_not_overlap() -> None:
    existing = [spec(1, 7, 0), spec(2, 7, 0)]
    assert overlaps([spec(3, 7, 0), spec(1, 7, 15)], existing) == []


def test_bk1_an_overlapping_opening_is_a_conflict_naming_an_example() -> None:
    conflict = overlapping(2, spec(2, 7, 10))
    assert isinstance(conflict, Conflict)
    assert conflict.status == 409
    assert conflict.code == "overlapping_slots"
    # 07:10 UTC on 2 March is 08:10 in Stockholm: the example is told in local time.
    assert "08:10" in conflict.message


# --- the time book and its blocks (BK-1) ---


def test_bk1_a_time_book_with_a_resource_twice_is_refused() -> None:
    with pytest.raises(DomainError) as refused:
        TimeBook.create(
            "tb-1",
            "unit-1",
            "Vaccinationsmottagningen",
            "Tidbok 1",
            [ResourceColumns("nurse", 3), ResourceColumns("nurse", 2)],
        )
    assert ("resources", "duplicate") in broken(refused.value)


def test_bk1_a_time_book_keeps_its_resources_and_columns() -> None:
    tb = book(nurses=3, doctors=2)
    assert tb.columns("nurse") == 3
    assert tb.columns("doctor") == 2


@pytest.mark.parametrize("minutes", [-15, 0])
def test_bk1_a_time_block_ending_before_or_when_it_starts_is_refused(minutes: int) -> None:
    start = utc(MONDAY, 11)
    with pytest.raises(DomainError) as refused:
        TimeBlock(
            "blk-1", "tb-1", "nurse", None, start, start + timedelta(minutes=minutes), "Lunch"
        )
    assert ("end", "before_start") in broken(refused.value)


def test_bk1_a_time_block_over_lunch_is_accepted() -> None:
    start = utc(MONDAY, 11)
    block = TimeBlock("blk-1", "tb-1", "nurse", (1, 2), start, start + timedelta(hours=1), "Lunch")
    assert block.label == "Lunch"
    assert block.columns == (1, 2)


# --- visit types (BK-1, BK-7) ---


def test_bk1_a_visit_type_needs_a_resource_of_the_time_book() -> None:
    """A doctor visit type cannot be added to a nurse-only time book."""
    tb = book()
    with pytest.raises(DomainError) as refused:
        tb.add_visit_type(VisitType("vt-doc", "Läkarbesök", "Övrigt", "doctor", 20))
    assert ("resource", "unknown") in broken(refused.value)
    assert tb.visit_types == []


def test_bk1_visit_types_with_free_text_names_are_bookable() -> None:
    tb = book()
    tb.add_visit_type(DOSE_1)
    tb.add_visit_type(DOSE_2)
    assert [vt.name for vt in tb.bookable_visit_types()] == [
        "Covid-19 dos 1, Comirnaty",
        "Covid-19 dos 2, Comirnaty, ENDAST ons-fre",
    ]


def test_bk7_renaming_a_visit_type_changes_its_name_only() -> None:
    tb = book()
    tb.add_visit_type(DOSE_1)
    tb.add_visit_type(DOSE_2)
    renamed = tb.rename_visit_type("vt-d1", "Covid-19 dos 1, Spikevax")
    assert renamed.name == "Covid-19 dos 1, Spikevax"
    assert tb.visit_type("vt-d1").name == "Covid-19 dos 1, Spikevax"
    assert (renamed.duration_minutes, renamed.dose, renamed.deleted) == (15, 1, False)
    assert tb.visit_type("vt-d2") == DOSE_2


def test_bk7_renaming_an_unknown_visit_type_is_refused() -> None:
    with pytest.raises(DomainError) as refused:
        book().rename_visit_type("vt-nope", "X")
    assert ("visit_type_id", "unknown") in broken(refused.value)


def test_bk7_deleting_a_visit_type_with_future_bookings_is_refused_naming_them() -> None:
    tb = book()
    tb.add_visit_type(DOSE_1)
    future = [
        FutureBooking("VB-ABC234", utc(MONDAY, 7)),
        FutureBooking("VB-XYZ789", utc(TUESDAY, 7, 15)),
    ]
    with pytest.raises(Conflict) as refused:
        tb.delete_visit_type("vt-d1", future)
    assert refused.value.status == 409
    assert refused.value.code == "visit_type_in_use"
    assert [b["reference"] for b in refused.value.extra["bookings"]] == ["VB-ABC234", "VB-XYZ789"]
    assert [datetime.fromisoformat(b["start"]) for b in refused.value.extra["bookings"]] == [
        utc(MONDAY, 7),
        utc(TUESDAY, 7, 15),
    ]
    # Nothing changed: the visit type is still bookable.
    assert tb.bookable_visit_types() == [DOSE_1]


def test_bk7_deleting_a_visit_type_without_future_bookings_is_allowed() -> None:
    tb = book()
    tb.add_visit_type(DOSE_1)
    tb.add_visit_type(DOSE_2)
    deleted = tb.delete_visit_type("vt-d1", [])
    assert deleted.deleted
    assert tb.bookable_visit_types() == [DOSE_2]
    # Past bookings still find the visit type they were booked with.
    assert tb.visit_type("vt-d1").name == DOSE_1.name


# --- the visit type a moved booking keeps (BK-5) ---


def unit_books() -> tuple[TimeBook, TimeBook]:
    first = book("tb-1")
    first.add_visit_type(DOSE_1)
    second = book("tb-2")
    second.add_visit_type(VisitType("vt-b1", DOSE_1.name, "Covid-19", "nurse", 15, dose=1))
    second.add_visit_type(VisitType("vt-b2", "Covid-19 dos 3", "Covid-19", "nurse", 15))
    return first, second


def test_bk5_moving_within_a_time_book_keeps_the_visit_type() -> None:
    first, _ = unit_books()
    assert first.visit_type_for_move("tb-1", "vt-d1", DOSE_1.name) == DOSE_1


def test_bk5_moving_to_another_time_book_of_the_unit_finds_the_visit_type_by_name() -> None:
    _, second = unit_books()
    found = second.visit_type_for_move("tb-1", "vt-d1", DOSE_1.name)
    assert found.visit_type_id == "vt-b1"
    assert found.name == DOSE_1.name


def test_bk5_moving_to_a_time_book_without_that_visit_type_is_refused() -> None:
    first, _ = unit_books()
    with pytest.raises(DomainError) as refused:
        first.visit_type_for_move("tb-2", "vt-b2", "Covid-19 dos 3")
    assert ("time_book_id", "no_visit_type") in broken(refused.value)


def test_bk5_moving_to_a_time_book_whose_visit_type_of_that_name_was_deleted_is_refused() -> None:
    _, second = unit_books()
    second.delete_visit_type("vt-b1", [])
    with pytest.raises(DomainError) as refused:
        second.visit_type_for_move("tb-1", "vt-d1", DOSE_1.name)
    assert ("time_book_id", "no_visit_type") in broken(refused.value)
