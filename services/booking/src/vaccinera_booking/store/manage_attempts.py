"""Attempts to manage a booking by reference and SMS code (BK-2), counted in the database so
that every replica shares one count: an upsert per key and window answers the new count."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_booking.tables import manage_attempts


class ManageAttempts:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def count(self, key: str, window_start: datetime) -> int:
        """One more attempt for ``key`` in the window starting at ``window_start``: the count
        with it. Concurrent attempts wait on the row, so none is lost."""
        statement = insert(manage_attempts).values(key=key, window_start=window_start, attempts=1)
        attempts = await self.conn.scalar(
            statement.on_conflict_do_update(
                index_elements=[manage_attempts.c.key, manage_attempts.c.window_start],
                set_={"attempts": manage_attempts.c.attempts + 1},
            ).returning(manage_attempts.c.attempts)
        )
        return int(attempts or 0)

    async def forget(self, key: str) -> None:
        """A fresh start for ``key`` (a reference that got a new code)."""
        await self.conn.execute(delete(manage_attempts).where(manage_attempts.c.key == key))

    async def prune(self, before: datetime, limit: int = 1000) -> None:
        """Drop (up to ``limit`` of) the counts of windows that have ended. Rows another
        attempt is dropping are skipped, so concurrent prunes neither wait nor deadlock."""
        ended = (
            select(manage_attempts.c.key, manage_attempts.c.window_start)
            .where(manage_attempts.c.window_start < before)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        await self.conn.execute(
            delete(manage_attempts).where(
                tuple_(manage_attempts.c.key, manage_attempts.c.window_start).in_(ended)
            )
        )
