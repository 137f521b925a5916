"""The interval between doses of a series (BK-10): dose N (N ≥ 2) is booked no earlier than the
first day the journal allows after the patient's dose N−1 (the catalogue's minimum interval,
JR-1), carried by its ``DoseAdministered`` or ``HistoricalDoseRecorded`` as ``next_dose_from``."""

from __future__ import annotations

from datetime import date, datetime

from vaccinera_booking.domain.common import TZ
from vaccinera_booking.domain.time_books import VisitType
from vaccinera_kit.errors import Conflict, ErrorDetail


class DoseTooEarly(Conflict):
    """The time is before the first day the patient's next dose may be given."""

    code = "dose_too_early"


def previous_dose(visit_type: VisitType) -> int | None:
    """The dose whose interval a booking of ``visit_type`` waits for: N−1 for a dose N ≥ 2,
    None for a first dose or a visit type that is no dose of a series."""
    if visit_type.dose is None or visit_type.dose < 2:
        return None
    return visit_type.dose - 1


def ensure_dose_interval(
    visit_type: VisitType, start: datetime, next_dose_from: date | None
) -> None:
    """Refuse a dose N booked at ``start`` before ``next_dose_from`` of the patient's dose N−1.

    Compared by the unit's local day, as the interval is counted in days. Without a recorded
    dose N−1 (``next_dose_from`` None) nothing is refused: the earlier dose may have been given
    elsewhere and be entered into the journal later (JR-9)."""
    previous = previous_dose(visit_type)
    if previous is None or next_dose_from is None:
        return
    if start.astimezone(TZ).date() >= next_dose_from:
        return
    earliest = next_dose_from.isoformat()
    message = (
        f"Dose {visit_type.dose} can be given from {earliest} at the earliest, after the "
        f"minimum interval since dose {previous}. Choose a time on or after that day."
    )
    raise DoseTooEarly(
        message,
        details=[ErrorDetail(field="start", rule="dose_too_early", message=message)],
        extra={"earliest_date": earliest},
    )
