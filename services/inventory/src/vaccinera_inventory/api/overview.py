"""The regional overview (IN-5): stock now and consumption in a period, per vaccine, at each
unit, each care provider, or for the region. For the stock administrators of any unit:
planning and distributing vaccine across the region needs every provider's figures, and they
hold no patient data."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from vaccinera_contracts.access import Ops
from vaccinera_inventory.api.deps import ContextDep
from vaccinera_inventory.domain import Level
from vaccinera_inventory.schemas import OverviewOut, overview_out
from vaccinera_inventory.services import overview
from vaccinera_kit.deps import Allowed, endpoint

router = APIRouter(tags=["overview"])


@endpoint(router, Ops.REGIONAL_OVERVIEW, response_model=OverviewOut)
async def regional_overview(
    ctx: ContextDep,
    principal: Allowed,
    by: Annotated[
        Level,
        Query(
            description="One row per vaccine at each unit, at each care provider, or for the region."
        ),
    ] = "unit",
    start: Annotated[
        datetime | None,
        Query(
            alias="from",
            description="Consumption from (with a time zone); default 30 days before 'to'.",
        ),
    ] = None,
    end: Annotated[
        datetime | None,
        Query(alias="to", description="Consumption until (exclusive); default now."),
    ] = None,
) -> OverviewOut:
    """Usable doses (unexpired batches) and doses in expired batches now; delivered,
    administered, discarded and corrected in the period; per vaccine at each unit, care
    provider or the region. One statement: the figures agree with each other while
    administrations go on."""
    period, figures = await overview.overview(ctx, by, start, end)
    return overview_out(by, period, figures)
