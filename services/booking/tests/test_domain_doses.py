"""BK-10: a dose N ≥ 2 is booked no earlier than the first day the journal allows after the
patient's dose N−1 (``next_dose_from``), counted by the unit's local day; without a recorded
dose N−1 nothing is refused.

Times: Stockholm is UTC+1 in March 2026 and UTC+2 from 29 March."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from vaccinera_booking.domain import (
    DoseTooEarly,
    VisitType,
    ensure_dose_interval,
    previous_dose,
)
from vaccinera_kit.errors import Conflict

DOSE_1 = VisitType("vt-d1", "Covid-19 dos 1, Comirnaty", "Covid-19", "nurse", 15, dose=1)
DOSE_2 = VisitType("vt-d2", "Covid-19 dos 2, Comirnaty", "Covid-19", "nurse", 15, dose=2)
DOSE_3 = VisitType("vt-d3", "Covid-19 dos 3", "Covid-19", "nurse", 15, dose=3)
CONSULTATION = VisitType("vt-long", "Konsultation före vaccination", "Övrigt", "nurse", 30)
FROM = date(2026, 3, 23)  # the first day dose 2 may be given


def refused(visit_type: VisitType, start: datetime, next_dose_from: date | None) -> DoseTooEarly:
    with pytest.raises(DoseTooEarly) as caught:
        ensure_dose_interval(visit_type, start, next_dose_from)
    return caught.value


@pytest.mark.parametrize(
    ("visit_type", "previous"), [(DOSE_1, None), (CONSULTATION, None), (DOSE_2, 1), (DOSE_3, 2)]
)
def test_bk10_a_dose_n_waits_for_dose_n_minus_1(
    visit_type: VisitType, previous: int | None
) -> None:
    assert previous_dose(visit_type) == previous


def test_bk10_a_dose_2_the_day_before_the_first_allowed_day_is_refused_naming_it() -> None:
    error = refused(DOSE_2, datetime(2026, 3, 22, 14, 0, tzinfo=UTC), FROM)

    assert isinstance(error, Conflict) and error.status == 409
    assert error.code == "dose_too_early"
    assert "2026-03-23" in error.message
    assert [(d.field, d.rule) for d in error.details] == [("start", "dose_too_early")]
    assert "2026-03-23" in error.details[0].message
    assert error.extra == {"earliest_date": "2026-03-23"}


def test_bk10_a_dose_2_on_the_first_allowed_day_or_later_is_allowed() -> None:
    ensure_dose_interval(DOSE_2, datetime(2026, 3, 23, 7, 0, tzinfo=UTC), FROM)  # 08:00 local
    ensure_dose_interval(DOSE_2, datetime(2026, 6, 1, 7, 0, tzinfo=UTC), FROM)


def test_bk10_the_day_is_the_units_local_day_not_utcs() -> None:
    """00:30 in Stockholm on the first allowed day is still the evening before in UTC."""
    ensure_dose_interval(DOSE_2, datetime(2026, 3, 22, 23, 30, tzinfo=UTC), FROM)
    # 23:30 local the evening before (22:30 UTC): too early.
    refused(DOSE_2, datetime(2026, 3, 22, 22, 30, tzinfo=UTC), FROM)
    # Summer time: UTC+2, so 22:30 UTC is already 00:30 the next local day.
    ensure_dose_interval(DOSE_2, datetime(2026, 4, 30, 22, 30, tzinfo=UTC), date(2026, 5, 1))
    refused(DOSE_2, datetime(2026, 4, 30, 21, 30, tzinfo=UTC), date(2026, 5, 1))


def test_bk10_without_a_recorded_previous_dose_nothing_is_refused() -> None:
    """Dose 1 may have been given elsewhere and be entered into the journal later."""
    ensure_dose_interval(DOSE_2, datetime(2026, 3, 2, 7, 0, tzinfo=UTC), None)


def test_bk10_first_doses_and_visits_without_a_dose_are_never_refused() -> None:
    early = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    ensure_dose_interval(DOSE_1, early, FROM)
    ensure_dose_interval(CONSULTATION, early, FROM)


def test_bk10_a_dose_3_names_its_own_numbers() -> None:
    error = refused(DOSE_3, datetime(2026, 3, 2, 7, 0, tzinfo=UTC), FROM)
    assert "Dose 3" in error.message and "dose 2" in error.message
