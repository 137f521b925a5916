"""The control report (RX-3): doses entered as history at a unit, with their comments, so the
staff who check hand-entered doses can tell a dose given abroad from a mistake."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query

from vaccinera_contracts.access import Ops
from vaccinera_kit.deps import Allowed, endpoint
from vaccinera_kit.errors import invalid
from vaccinera_registry_export.api.deps import ContextDep
from vaccinera_registry_export.schemas import ControlReportOut, control_report_out
from vaccinera_registry_export.services import reads

router = APIRouter(tags=["control report"])

ID_PATTERN = r"^[\w.:-]{1,100}$"
LONGEST = timedelta(days=366)


@endpoint(router, Ops.CONTROL_REPORT, response_model=ControlReportOut)
async def control_report(
    unit_id: Annotated[str, Path(pattern=ID_PATTERN)],
    ctx: ContextDep,
    principal: Allowed,
    start: Annotated[
        datetime | None, Query(alias="from", description="Default: 30 days ago.")
    ] = None,
    end: Annotated[datetime | None, Query(alias="to", description="Default: now.")] = None,
) -> ControlReportOut:
    """The unit's doses entered as history in the period (recorded from ``from`` up to
    ``to``), oldest first, at most a year."""
    end = end or datetime.now(UTC)
    start = start or end - timedelta(days=30)
    for name, value in (("from", start), ("to", end)):
        if value.tzinfo is None:
            raise invalid(name, "timezone", "Give the time with a time zone, e.g. +01:00.")
    if not start < end <= start + LONGEST:
        raise invalid("to", "range", "Give a period of at most a year, ending after it starts.")
    rows = await reads.control_report(ctx, principal, Ops.CONTROL_REPORT, unit_id, start, end)
    return control_report_out(unit_id, start, end, rows)
