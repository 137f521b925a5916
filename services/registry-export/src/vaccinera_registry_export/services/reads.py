"""Reads: the control report of a unit (RX-3) and the operator's view of the reports (RX-5).
The control report names patients' doses: it is in each patient's access log (ID-7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from vaccinera_contracts.access import Operation
from vaccinera_contracts.roles import Principal
from vaccinera_kit.access_log import AccessLog
from vaccinera_kit.auth import ensure_unit
from vaccinera_kit.database import Database
from vaccinera_kit.errors import Conflict, NotFound
from vaccinera_kit.unit_of_work import UnitOfWorkFactory
from vaccinera_registry_export.services.sending import now
from vaccinera_registry_export.store import RECEIVERS, ControlReport, Reports, Runs


@dataclass(frozen=True)
class Context:
    unit_of_work: UnitOfWorkFactory
    db: Database
    access: AccessLog


async def control_report(
    ctx: Context, principal: Principal, op: Operation, unit_id: str, start: datetime, end: datetime
) -> list[Any]:
    ensure_unit(principal, unit_id)
    async with ctx.db.connect() as conn:
        rows = await ControlReport(conn).of_unit(unit_id, start, end)
    await ctx.access.record(principal, op, *sorted({r.patient_id for r in rows}))
    return rows


@dataclass(frozen=True)
class Overview:
    counts: dict[tuple[str, str], int]
    reports: list[Any]
    runs: list[Any]


async def overview(
    ctx: Context, receiver: str | None, state: str | None, limit: int, before_id: int | None
) -> Overview:
    async with ctx.db.connect() as conn:
        repository = Reports(conn)
        counts = await repository.counts()
        listed = await repository.listed(receiver, state, limit, before_id)
        runs = await Runs(conn).latest("nvr")
    for r in RECEIVERS:
        for s in ("pending", "acknowledged", "failed", "superseded"):
            counts.setdefault((r, s), 0)
    return Overview(counts, listed, runs)


async def retry(ctx: Context, report_id: int) -> None:
    async with ctx.unit_of_work() as uow:
        before = await Reports(uow.conn).retry(report_id, now())
    if before is None:
        raise NotFound(f"No report {report_id}.", code="report_not_found")
    if before != "failed":
        raise Conflict(
            f"Report {report_id} is {before}: only a failed report is sent again by hand.",
            code="report_not_failed",
        )
