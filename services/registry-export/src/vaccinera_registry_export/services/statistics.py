"""Statistics for regional infection control (RX-4): vaccination coverage and the stock's
consumption, each one statement over the registry export's own tables (never another
service's database). Aggregates only: no patient is named, so nothing goes to an access log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from vaccinera_registry_export.domain.statistics import (
    CoverageLevel,
    Days,
    StockLevel,
    local_day,
)
from vaccinera_registry_export.services.reads import Context
from vaccinera_registry_export.services.sending import now
from vaccinera_registry_export.store.statistics import Statistics


@dataclass(frozen=True)
class Coverage:
    by: CoverageLevel
    vaccine_id: str | None
    dose_number: int | None
    # The population register's count the rows are measured against (None: none arrived yet).
    counted_at: datetime | None
    ages_on: date
    rows: list[Any]


@dataclass(frozen=True)
class Stock:
    by: StockLevel
    days: Days
    today: date
    rows: list[Any]


async def coverage(
    ctx: Context, by: CoverageLevel, vaccine_id: str | None, dose_number: int | None
) -> Coverage:
    today = local_day(now())
    async with ctx.db.connect() as conn:
        rows = await Statistics(conn).coverage(by, vaccine_id, dose_number, today)
    counted_at = rows[0].counted_at if rows else None
    ages_on = rows[0].ages_on if rows else today
    return Coverage(by, vaccine_id, dose_number, counted_at, ages_on, rows)


async def stock(ctx: Context, by: StockLevel, first: date | None, last: date | None) -> Stock:
    today = local_day(now())
    days = Days.of(first, last, today)
    async with ctx.db.connect() as conn:
        rows = await Statistics(conn).stock(by, days, today)
    return Stock(by, days, today, rows)
