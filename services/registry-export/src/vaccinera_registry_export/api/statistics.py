"""Statistics for regional infection control (RX-4): vaccination coverage per unit, care
provider, region, municipality and age band, per vaccine and dose number, against the
population register's counts; stock and consumption per unit, care provider and region.
Aggregates of the registry export's own tables, one statement each."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from vaccinera_contracts.access import Ops
from vaccinera_kit.deps import Allowed, endpoint
from vaccinera_registry_export.api.deps import ContextDep
from vaccinera_registry_export.domain.statistics import CoverageLevel, StockLevel
from vaccinera_registry_export.schemas import CoverageOut, StockOut, coverage_out, stock_out
from vaccinera_registry_export.services import statistics

router = APIRouter(tags=["statistics"])

ID_PATTERN = r"^[\w.:-]{1,100}$"


@endpoint(router, Ops.COVERAGE, response_model=CoverageOut)
async def coverage(
    ctx: ContextDep,
    principal: Allowed,
    by: Annotated[
        CoverageLevel,
        Query(
            description="Where the dose was given (unit, care_provider), or the person's "
            "(region, municipality, age_band: against the population register's counts)."
        ),
    ] = "region",
    vaccine_id: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="One vaccine; default: each.")
    ] = None,
    dose_number: Annotated[
        int | None,
        Query(ge=1, le=99, description="Persons with at least this dose; default: each dose."),
    ] = None,
) -> CoverageOut:
    """Persons with at least dose N of each vaccine, each counted once; by region,
    municipality and age band with the population and the covered share. Doses given here
    and doses entered as history (given abroad or elsewhere) both cover a person; by unit and
    care provider only the doses given there count. A protected person's dose counts where it
    was given and in the age band, never in a municipality (ID-3)."""
    seen = await statistics.coverage(ctx, by, vaccine_id, dose_number)
    return coverage_out(
        seen.by, seen.vaccine_id, seen.dose_number, seen.counted_at, seen.ages_on, seen.rows
    )


@endpoint(router, Ops.STATISTICS_STOCK, response_model=StockOut)
async def stock(
    ctx: ContextDep,
    principal: Allowed,
    by: Annotated[
        StockLevel,
        Query(description="One row per vaccine at each unit, care provider, or the region."),
    ] = "region",
    first: Annotated[
        date | None,
        Query(alias="from", description="The period's first day; default 30 days to 'to'."),
    ] = None,
    last: Annotated[
        date | None,
        Query(alias="to", description="The period's last day, included; default today."),
    ] = None,
) -> StockOut:
    """Doses in stock now (usable, and in batches past their expiry day), and those
    delivered, administered, discarded and corrected in the period (the region's days, at
    most a year), per vaccine."""
    seen = await statistics.stock(ctx, by, first, last)
    return stock_out(seen.by, seen.days.first, seen.days.last, seen.rows)
