"""What every part of booking's domain shares: the unit's time zone, resources, and how a rule
names the field it refused."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from vaccinera_kit.errors import DomainError, ErrorDetail

# Swedish units book in Swedish time; the database and events hold UTC.
TZ = ZoneInfo("Europe/Stockholm")
Resource = Literal["nurse", "doctor"]
Actor = Literal["citizen", "staff"]


def invalid(field_name: str, rule: str, message: str) -> DomainError:
    """A 422 naming the field and the rule it broke."""
    return DomainError(message, details=[ErrorDetail(field=field_name, rule=rule, message=message)])


def aware(moment: datetime, field_name: str) -> datetime:
    """A client's time in UTC; a time without a zone is refused (it is ambiguous twice a year)."""
    if moment.tzinfo is None:
        raise invalid(field_name, "timezone", "Give the time with a time zone, e.g. +01:00.")
    return moment.astimezone(UTC)


def midnight(day: date) -> datetime:
    """The start of a local day, in UTC."""
    return datetime.combine(day, datetime.min.time(), TZ).astimezone(UTC)


def local_minute(moment: datetime) -> str:
    return f"{moment.astimezone(TZ):%Y-%m-%d %H:%M}"
