"""NVR runs (RX-1): the nightly one, scheduled one interval after the last, and those an
operator asks for. A run waiting to start is claimed by one replica."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_registry_export.tables import runs

SCHEDULE = "schedule"


@dataclass(frozen=True)
class Run:
    run_id: int
    receiver: str
    requested_by: str | None
    requested_at: datetime


class Runs:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def request(self, receiver: str, by: str, at: datetime) -> int:
        run_id = await self.conn.scalar(
            insert(runs)
            .values(receiver=receiver, requested_by=by, requested_at=at)
            .returning(runs.c.run_id)
        )
        assert run_id is not None
        return int(run_id)

    async def schedule_next(self, receiver: str, now: datetime, interval: timedelta) -> None:
        """The next nightly run, one interval after the last scheduled one started (or from
        now, the first time), unless one is already waiting."""
        last = await self.conn.scalar(
            select(func.max(runs.c.started_at)).where(
                runs.c.receiver == receiver, runs.c.requested_by == SCHEDULE
            )
        )
        await self.conn.execute(
            insert(runs)
            .values(receiver=receiver, requested_by=SCHEDULE, requested_at=(last or now) + interval)
            .on_conflict_do_nothing()
        )

    async def start_due(self, receiver: str, now: datetime, lease: timedelta) -> Run | None:
        """The first run due, or one whose replica stopped renewing it (killed mid-run),
        marked started by this one; skipped by other replicas while this transaction holds
        it."""
        row = (
            await self.conn.execute(
                select(runs.c.run_id, runs.c.receiver, runs.c.requested_by, runs.c.requested_at)
                .where(
                    runs.c.receiver == receiver,
                    runs.c.finished_at.is_(None),  # ix_runs_unfinished
                    or_(
                        and_(runs.c.started_at.is_(None), runs.c.requested_at <= now),
                        and_(
                            runs.c.started_at.is_not(None),
                            runs.c.finished_at.is_(None),
                            runs.c.heartbeat_at < now - lease,
                        ),
                    ),
                )
                .order_by(runs.c.requested_at)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
        ).first()
        if row is None:
            return None
        await self.conn.execute(
            update(runs)
            .where(runs.c.run_id == row.run_id)
            .values(started_at=func.coalesce(runs.c.started_at, now), heartbeat_at=now)
        )
        return Run(row.run_id, row.receiver, row.requested_by, row.requested_at)

    async def heartbeat(self, run_id: int, now: datetime) -> None:
        await self.conn.execute(
            update(runs).where(runs.c.run_id == run_id).values(heartbeat_at=now)
        )

    async def finish(self, run_id: int, sent: int, failed: int, at: datetime) -> None:
        await self.conn.execute(
            update(runs)
            .where(runs.c.run_id == run_id)
            .values(finished_at=at, sent=sent, failed=failed)
        )

    async def latest(self, receiver: str, limit: int = 10) -> list[object]:
        return list(
            await self.conn.execute(
                select(runs)
                .where(runs.c.receiver == receiver)
                .order_by(runs.c.run_id.desc())
                .limit(limit)
            )
        )
