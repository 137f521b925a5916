"""The regional overview (IN-5): stock now and consumption in a period, per vaccine, at each
unit, at each care provider, or for the region; one statement, one snapshot, so the figures
agree with each other while administrations go on."""

from __future__ import annotations

from datetime import datetime

from vaccinera_inventory.domain import Figures, Level, Period
from vaccinera_inventory.services.context import Context, now, today
from vaccinera_inventory.store import Overview


async def overview(
    ctx: Context, level: Level, start: datetime | None, end: datetime | None
) -> tuple[Period, list[Figures]]:
    period = Period.of(start, end, now())
    async with ctx.read() as conn:
        return period, await Overview(conn).figures(level, period, today())
