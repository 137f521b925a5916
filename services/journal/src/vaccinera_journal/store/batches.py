"""The batches the journal gives doses from: kept from the inventory's events, and counted
down here, in the administration's transaction, so the last dose goes to one nurse only."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_contracts.events import BatchCheckedIn, StockChanged
from vaccinera_journal.domain import BatchOnHand
from vaccinera_journal.tables import batches


class Batches:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, batch_id: str) -> BatchOnHand | None:
        row = (
            await self.conn.execute(select(batches).where(batches.c.batch_id == batch_id))
        ).first()
        return None if row is None else BatchOnHand(**row._mapping)

    async def take_one(self, batch_id: str, today: date) -> bool:
        """One dose of the batch, if it has one and has not expired: one statement, so of
        many nurses racing for the last dose exactly one gets it (IN-2, IN-6)."""
        taken = await self.conn.execute(
            update(batches)
            .where(
                batches.c.batch_id == batch_id,
                batches.c.available > 0,
                batches.c.expires_on >= today,
            )
            .values(available=batches.c.available - 1)
            .returning(batches.c.batch_id)
        )
        return taken.first() is not None

    async def give_back(self, batch_id: str) -> None:
        """A dose recorded from this batch that was given from another (a correction)."""
        await self.conn.execute(
            update(batches)
            .where(batches.c.batch_id == batch_id)
            .values(available=batches.c.available + 1)
        )

    async def checked_in(self, event: BatchCheckedIn) -> None:
        statement = insert(batches).values(
            batch_id=event.batch_id,
            unit_id=event.unit_id,
            care_provider_id=event.care_provider_id,
            vaccine_id=event.vaccine_id,
            batch_number=event.batch_number,
            expires_on=event.expires_on,
            available=event.doses,
        )
        await self.conn.execute(
            statement.on_conflict_do_update(
                index_elements=[batches.c.batch_id],
                set_={"available": batches.c.available + event.doses},
            )
        )

    async def changed(self, event: StockChanged) -> None:
        """A discard or a correction at the inventory. An administration is not: the journal
        counted it down itself when it gave the dose."""
        if event.change == "administered":
            return
        await self.conn.execute(
            update(batches)
            .where(batches.c.batch_id == event.batch_id)
            .values(available=func.greatest(batches.c.available + event.delta, 0))
        )
