"""The vaccine catalogue (JR-1): what a vaccine is, and when the next dose of its series may
be given (BK-10)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TypeVar

from vaccinera_contracts.events import VaccineRenamed
from vaccinera_kit.errors import invalid


@dataclass(frozen=True)
class Vaccine:
    vaccine_id: str
    name: str
    manufacturer: str
    atc_code: str
    doses_in_series: int
    # Days from one dose of the series to the next; None: no minimum.
    min_interval_days: int | None

    def next_dose_from(self, dose_number: int, given_on: date) -> date | None:
        """The first day the dose after ``dose_number`` may be given, or None when the series
        is complete (a later dose, e.g. a booster, follows other advice) or has no minimum."""
        if self.min_interval_days is None or dose_number >= self.doses_in_series:
            return None
        return given_on + timedelta(days=self.min_interval_days)


@dataclass(frozen=True)
class VaccineChange:
    """What an administrator changes of a vaccine; None leaves it as it is."""

    name: str | None = None
    manufacturer: str | None = None
    atc_code: str | None = None
    doses_in_series: int | None = None
    min_interval_days: int | None = None
    # Set to remove the minimum interval (None above means "unchanged").
    no_min_interval: bool = False


T = TypeVar("T")


def _or(given: T | None, current: T) -> T:
    return current if given is None else given


def change(
    vaccine: Vaccine, what: VaccineChange, now: datetime
) -> tuple[Vaccine, VaccineRenamed | None]:
    """The vaccine after the change, and the rename event if its name changed: past
    vaccinations, orders and batches show the new name (JR-1)."""
    if what.no_min_interval and what.min_interval_days is not None:
        raise invalid(
            "min_interval_days",
            "conflict",
            "Give a minimum interval or remove it, not both.",
        )
    changed = replace(
        vaccine,
        name=what.name if what.name is not None else vaccine.name,
        manufacturer=_or(what.manufacturer, vaccine.manufacturer),
        atc_code=_or(what.atc_code, vaccine.atc_code),
        doses_in_series=_or(what.doses_in_series, vaccine.doses_in_series),
        min_interval_days=None
        if what.no_min_interval
        else (
            what.min_interval_days
            if what.min_interval_days is not None
            else vaccine.min_interval_days
        ),
    )
    renamed = None
    if changed.name != vaccine.name:
        renamed = VaccineRenamed(
            vaccine_id=vaccine.vaccine_id,
            name=changed.name,
            previous_name=vaccine.name,
            renamed_at=now,
        )
    return changed, renamed
