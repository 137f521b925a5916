"""What every part of the inventory's domain shares: the region's calendar (a batch expires at
the end of its expiry day, Swedish time), and how a rule names the field it refused."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from vaccinera_kit.errors import DomainError, ErrorDetail

TZ = ZoneInfo("Europe/Stockholm")


def local_day(moment: datetime) -> date:
    """The day in the region at ``moment`` (a time without a zone is taken as UTC): expiry is
    judged by it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(TZ).date()


def invalid(field_name: str, rule: str, message: str) -> DomainError:
    """A 422 naming the field and the rule it broke."""
    return DomainError(message, details=[ErrorDetail(field=field_name, rule=rule, message=message)])
