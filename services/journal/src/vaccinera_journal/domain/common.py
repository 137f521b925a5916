"""What every part of the journal's domain shares: the region's calendar (a dose is given on a
Swedish day), where an entry was made, and how a rule names the field it refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Europe/Stockholm")


def local_day(moment: datetime) -> date:
    """The day in the region at ``moment`` (a time without a zone is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(TZ).date()


@dataclass(frozen=True)
class Place:
    """Where an entry is made and who signs it: the active assignment's unit and care
    provider, and the signer's HSA-id (JR-2, JR-4)."""

    unit_id: str
    care_provider_id: str
    hsa_id: str
