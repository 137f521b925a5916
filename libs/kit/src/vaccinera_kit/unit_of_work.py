"""A unit of work is one database transaction: the state change and the events it causes are
committed together, or neither is (transactional outbox).

    async with service.unit_of_work() as uow:
        await uow.conn.execute(bookings.insert().values(...))
        uow.publish(BookingCreated(...))

Leaving the block normally writes the staged events to the outbox table and commits; an
exception (or a cancelled request) rolls everything back, events included.

The event consumer handles a Kafka batch in one transaction, each event's unit of work in a
savepoint of it (``unit_of_work.batch()``, then ``batch.savepoint()`` per event): a unit of work
that fails undoes only its own writes and events; the events of those that succeeded go to the
outbox in one insert with one NOTIFY when the batch commits.
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

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[BatchOfWork]:
        """One transaction for many units of work, each in a savepoint (``batch.savepoint()``).
        Leaving the block normally writes the events of every unit of work that succeeded to
        the outbox (one insert, one NOTIFY) and commits; an exception rolls everything back."""
        async with self.db.engine.begin() as conn:
            batch = BatchOfWork(conn, self.outbox)
            yield batch
            staged = await self.outbox.write_rows(conn, batch.rows)
        if staged:
            self.on_commit()


class BatchOfWork:
    """The shared transaction of ``UnitOfWorkFactory.batch()``."""

    def __init__(self, conn: AsyncConnection, outbox: Outbox) -> None:
        self.conn = conn
        self.outbox = outbox
        self.rows: list[dict[str, Any]] = []

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work inside the batch: an exception rolls back to the savepoint (its own
        writes and staged events, nothing of the others) and propagates; ``rollback_only()``
        does the same without an exception."""
        uow = UnitOfWork(self.conn)
        try:
            async with self.conn.begin_nested():
                yield uow
                if uow.rollback_requested:
                    raise _RolledBack
        except _RolledBack:
            return
        # Made here, in the caller's context: the rows carry its correlation, causation and
        # trace (each event handler of a batch has its own).
        if uow.events:
            self.rows.extend(self.outbox.rows(uow.events))


class _RolledBack(Exception):
    """Leaves ``engine.begin()`` through its rollback path."""
