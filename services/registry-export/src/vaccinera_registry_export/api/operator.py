"""The registry operator's view (RX-5): what is pending, acknowledged, failed or superseded
per receiver, the receivers' answers, the NVR runs; retry a failed report; start an NVR run
now. No patient identifier is shown: reports are named by dose and version."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from vaccinera_contracts.access import Ops
from vaccinera_kit.deps import Allowed, endpoint
from vaccinera_registry_export.api.deps import ContextDep
from vaccinera_registry_export.schemas import (
    Receiver,
    ReportsOut,
    RunIn,
    RunRequestedOut,
    State,
    reports_out,
)
from vaccinera_registry_export.services import reads
from vaccinera_registry_export.services.runs import request_run

router = APIRouter(tags=["operator"])


@endpoint(router, Ops.REPORTS, response_model=ReportsOut)
async def list_reports(
    ctx: ContextDep,
    principal: Allowed,
    receiver: Receiver | None = None,
    state: State | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_id: Annotated[
        int | None, Query(ge=1, description="Page on: the last report_id seen.")
    ] = None,
) -> ReportsOut:
    """Counts per receiver and state, the reports newest first (filtered), the latest runs."""
    seen = await reads.overview(ctx, receiver, state, limit, before_id)
    return reports_out(seen.counts, seen.reports, seen.runs)


@endpoint(router, Ops.RETRY_REPORT, status_code=204, errors=(404, 409))
async def retry_report(
    report_id: Annotated[int, Path(ge=1)], ctx: ContextDep, principal: Allowed
) -> None:
    """A failed report pending again, sent with the next batch (after its cause is fixed)."""
    await reads.retry(ctx, report_id)


@endpoint(router, Ops.START_RUN, status_code=202, response_model=RunRequestedOut)
async def start_run(body: RunIn, ctx: ContextDep, principal: Allowed) -> RunRequestedOut:
    """Report to NVR now rather than tonight: the run starts within seconds, in one replica."""
    run_id = await request_run(ctx.unit_of_work, body.receiver, principal.subject)
    return RunRequestedOut(run_id=run_id, receiver=body.receiver)
