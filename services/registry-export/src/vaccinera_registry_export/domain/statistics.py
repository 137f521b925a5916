"""The statistics' rules for regional infection control (RX-4), free of I/O: the levels they
are shown at, the period of the stock's consumption, the day a movement counts on, and the
share of a population.

Coverage counts persons, each once per row: a person counts for dose N at a level when one of
their doses of the vaccine numbered N or higher belongs to that row.

- ``unit`` and ``care_provider``: where the dose was given; doses given here only (a dose
  entered as history was not given at the unit that entered it). No population: a unit has
  none of its own.
- ``region``, ``municipality`` and ``age_band``: the person's, against the population
  register's counts. Doses given here and doses entered as history both count (a person
  vaccinated abroad is covered, JR-5). Persons the register does not place (reserve numbers,
  persons unknown to it, and for the municipality protected persons, ID-3) are counted in a
  row of their own with no population. Ages are whole years on the day the register was
  counted, the same day as the population's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo

from vaccinera_kit.errors import DomainError, ErrorDetail

TZ: Final = ZoneInfo("Europe/Stockholm")

CoverageLevel = Literal["unit", "care_provider", "region", "municipality", "age_band"]
StockLevel = Literal["unit", "care_provider", "region"]
# Where the dose was given, and the person's (against the population).
PLACES: Final[frozenset[str]] = frozenset({"unit", "care_provider"})
PERSONS: Final[frozenset[str]] = frozenset(get_args(CoverageLevel)) - PLACES
REGION: Final = "region"

DEFAULT_DAYS: Final = 30
LONGEST_DAYS: Final = 366


def local_day(moment: datetime) -> date:
    """The region's day at ``moment`` (a time without a zone is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(TZ).date()


@dataclass(frozen=True)
class Days:
    """A period of whole days of the region, both ends included."""

    first: date
    last: date

    @classmethod
    def of(cls, first: date | None, last: date | None, today: date) -> Days:
        """``last`` defaults to today, ``first`` to 30 days ending with ``last``; at most a
        year, not ending before it starts."""
        last = last or today
        first = first or last - timedelta(days=DEFAULT_DAYS - 1)
        if first > last:
            raise _invalid("to", "range", "The period ends before it starts.")
        if (last - first).days + 1 > LONGEST_DAYS:
            raise _invalid("from", "range", f"Give a period of at most {LONGEST_DAYS} days.")
        return cls(first, last)


def share(persons: int, population: int | None) -> float | None:
    """The covered share of a population, 0..1 to four decimals; None without a population."""
    if not population:
        return None
    return round(persons / population, 4)


def _invalid(field_name: str, rule: str, message: str) -> DomainError:
    return DomainError(message, details=[ErrorDetail(field=field_name, rule=rule, message=message)])
