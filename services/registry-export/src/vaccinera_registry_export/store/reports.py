"""Reports as the sender claims and settles them, and as the operator sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, literal_column, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_registry_export.domain import (
    Acknowledged,
    DoseVersion,
    Failed,
    Outcome,
    Retry,
    backoff,
)
from vaccinera_registry_export.tables import doses, reports

RECEIVER_NAMES = frozenset({"nvr", "npo"})
STATE_NAMES = frozenset({"pending", "acknowledged", "failed", "superseded"})


@dataclass(frozen=True)
class Claimed:
    report_id: int
    receiver: str
    attempts: int
    dose: DoseVersion


def _claimed(row: Any) -> Claimed:
    return Claimed(
        row.report_id,
        row.receiver,
        row.attempts,
        DoseVersion(
            administration_id=row.administration_id,
            version=row.version,
            identifier=row.identifier,
            identifier_kind=row.identifier_kind,
            vaccine_id=row.vaccine_id,
            vaccine_name=row.vaccine_name,
            atc_code=row.atc_code,
            dose_number=row.dose_number,
            batch_number=row.batch_number,
            unit_id=row.unit_id,
            administered_at=row.administered_at,
            vaccinator_hsa_id=row.vaccinator_hsa_id,
        ),
    )


class Reports:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def claim(
        self, receiver: str, now: datetime, limit: int, *, retries_only: bool = False
    ) -> list[Claimed]:
        """Due reports of ``receiver``, locked for this transaction: another replica skips
        them, and a sender that dies mid-batch releases them with its transaction."""
        statement = (
            select(
                reports.c.report_id,
                reports.c.receiver,
                reports.c.attempts,
                reports.c.version,
                reports.c.identifier,
                reports.c.identifier_kind,
                doses.c.administration_id,
                doses.c.vaccine_id,
                doses.c.vaccine_name,
                doses.c.atc_code,
                doses.c.dose_number,
                doses.c.batch_number,
                doses.c.unit_id,
                doses.c.administered_at,
                doses.c.vaccinator_hsa_id,
            )
            .select_from(
                reports.join(doses, doses.c.administration_id == reports.c.administration_id)
            )
            .where(
                reports.c.receiver == receiver,
                # A literal, not a parameter: the partial index ix_reports_due (state =
                # 'pending') must fit the generic plan of the prepared statement too.
                reports.c.state == literal_column("'pending'"),
                reports.c.due_at <= now,
            )
            .order_by(reports.c.due_at)
            .limit(limit)
            .with_for_update(of=reports, skip_locked=True)
        )
        if retries_only:
            statement = statement.where(reports.c.attempts > 0)
        return [_claimed(r) for r in await self.conn.execute(statement)]

    async def settle(self, claimed: Claimed, outcome: Outcome, now: datetime) -> None:
        attempts = claimed.attempts + 1
        values: dict[str, Any] = {"attempts": attempts}
        if isinstance(outcome, Acknowledged):
            values |= {
                "state": "acknowledged",
                "acknowledged_at": now,
                "receiver_ref": outcome.receiver_ref,
                "answer_status": 200,
                "answer": None,
            }
        elif isinstance(outcome, Retry):
            values |= {
                "due_at": now + backoff(attempts),
                "answer": outcome.reason,
                "answer_status": outcome.status,
            }
        elif isinstance(outcome, Failed):
            values |= {"state": "failed", "answer": outcome.reason, "answer_status": outcome.status}
        await self.conn.execute(
            update(reports).where(reports.c.report_id == claimed.report_id).values(**values)
        )

    async def settle_all(self, settled: list[tuple[Claimed, Outcome]], now: datetime) -> None:
        """Every answer of a batch: the acknowledged (nearly all) in one statement, the rest
        one by one."""
        acknowledged = [(c, o) for c, o in settled if isinstance(o, Acknowledged)]
        if acknowledged:
            await self.conn.execute(
                text(
                    "UPDATE reports SET state = 'acknowledged', attempts = attempts + 1, "
                    "acknowledged_at = :now, answer_status = 200, answer = NULL, "
                    "receiver_ref = v.ref "
                    "FROM unnest(CAST(:ids AS bigint[]), CAST(:refs AS text[])) AS v(id, ref) "
                    "WHERE reports.report_id = v.id"
                ).bindparams(bindparam("now", type_=reports.c.acknowledged_at.type)),
                {
                    "now": now,
                    "ids": [c.report_id for c, _ in acknowledged],
                    "refs": [o.receiver_ref for _, o in acknowledged],
                },
            )
        for claimed, outcome in settled:
            if not isinstance(outcome, Acknowledged):
                await self.settle(claimed, outcome, now)

    async def retry(self, report_id: int, now: datetime) -> str | None:
        """A failed report pending again, due now; its state before (None: no such report)."""
        before = await self.conn.scalar(
            select(reports.c.state).where(reports.c.report_id == report_id).with_for_update()
        )
        if before == "failed":
            await self.conn.execute(
                update(reports)
                .where(reports.c.report_id == report_id)
                .values(state="pending", due_at=now)
            )
        return None if before is None else str(before)

    async def counts(self) -> dict[tuple[str, str], int]:
        rows = await self.conn.execute(
            select(reports.c.receiver, reports.c.state, func.count()).group_by(
                reports.c.receiver, reports.c.state
            )
        )
        return {(r[0], r[1]): int(r[2]) for r in rows}

    async def listed(
        self, receiver: str | None, state: str | None, limit: int, before_id: int | None
    ) -> list[Any]:
        """Reports newest first, without the patient's identifier (the operator's view)."""
        statement = select(
            reports.c.report_id,
            reports.c.administration_id,
            reports.c.receiver,
            reports.c.version,
            reports.c.state,
            reports.c.attempts,
            reports.c.due_at,
            reports.c.answer_status,
            reports.c.answer,
            reports.c.receiver_ref,
            reports.c.created_at,
            reports.c.acknowledged_at,
        ).order_by(reports.c.report_id.desc())
        # Receiver and state as literals (each from a closed set the route checked): the
        # planner then knows a failed report is rare and takes ix_reports_state_report_id,
        # where a prepared statement's generic plan would walk every report backwards.
        if receiver is not None:
            assert receiver in RECEIVER_NAMES
            statement = statement.where(reports.c.receiver == literal_column(f"'{receiver}'"))
        if state is not None:
            assert state in STATE_NAMES
            statement = statement.where(reports.c.state == literal_column(f"'{state}'"))
        if before_id is not None:
            statement = statement.where(reports.c.report_id < before_id)
        return list(await self.conn.execute(statement.limit(limit)))
