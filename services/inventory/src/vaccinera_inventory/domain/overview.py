"""The regional overview (IN-5): stock and consumption per unit, care provider and region, per
vaccine. The figures are counted by the database in one statement; here are their shape and
the period they cover."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from vaccinera_inventory.domain.common import invalid

Level = Literal["unit", "care_provider", "region"]
DEFAULT_PERIOD = timedelta(days=30)
MAX_PERIOD = timedelta(days=366)
# The times a stock can have moved in: outside them a period is a typing error.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Period:
    """Consumption is counted over [start, end)."""

    start: datetime
    end: datetime

    @classmethod
    def of(cls, start: datetime | None, end: datetime | None, now: datetime) -> Period:
        """The asked period; by default the 30 days up to now. At most a year."""
        for name, moment in (("from", start), ("to", end)):
            if moment is None:
                continue
            if moment.tzinfo is None:
                raise invalid(name, "timezone", "Give the time with a time zone, e.g. +01:00.")
            if not EARLIEST <= moment < LATEST:
                raise invalid(name, "range", "Give a time from 2000 to 2099.")
        end = end or now
        start = start or end - DEFAULT_PERIOD
        if end <= start:
            raise invalid("to", "before_from", "'to' must be after 'from'.")
        if end - start > MAX_PERIOD:
            raise invalid("from", "range", "Ask for at most a year at a time.")
        return cls(start, end)


@dataclass(frozen=True)
class Figures:
    """One row of the overview: a vaccine at a unit, at a care provider or in the region."""

    vaccine_id: str
    vaccine_name: str
    unit_id: str | None
    care_provider_id: str | None
    # Now: doses of unexpired batches, and of expired batches still to be discarded.
    usable_doses: int
    expired_doses: int
    # In the period.
    delivered: int
    administered: int
    discarded: int
    corrected: int
