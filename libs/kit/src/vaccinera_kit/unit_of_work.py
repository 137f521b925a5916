"""A unit of work is one database transaction: the state change and the events it causes are
committed together, or neither is (transactional outbox).

    async with service.unit_of_work() as uow:
        await uow.conn.execute(bookings.insert().values(...))
        uow.publish(BookingCreated(...))

Leaving the block normally writes the staged events to the outbox table and commits; an
exception (or a cancelled request) rolls everything back, events included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Executable, Result
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_kit.database import Database
from vaccinera_kit.outbox import Outbox


class UnitOfWork:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.events: list[DomainEvent] = []
        self.rollback_requested = False

    def rollback_only(self) -> None:
        """End the block with a rollback instead of a commit (an answer that changes nothing,
        e.g. "every column was taken", without raising from inside the block)."""
        self.rollback_requested = True

    def publish(self, *events: DomainEvent) -> None:
        """Stage events: they are written to the outbox in this transaction, at commit."""
        self.events.extend(events)

    async def execute(self, statement: Executable, params: Any = None) -> Result[Any]:
        return await self.conn.execute(statement, params)


class UnitOfWorkFactory:
    def __init__(self, db: Database, outbox: Outbox, on_commit: Callable[[], None]) -> None:
        self.db = db
        self.outbox = outbox
        self.on_commit = on_commit

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[UnitOfWork]:
        try:
            async with self.db.engine.begin() as conn:
                uow = UnitOfWork(conn)
                yield uow
                if uow.rollback_requested:
                    raise _RolledBack
                staged = await self.outbox.write(conn, uow.events)
        except _RolledBack:
            return
        if staged:
            self.on_commit()


class _RolledBack(Exception):
    """Leaves ``engine.begin()`` through its rollback path."""
