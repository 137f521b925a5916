"""The administrations received from the journal, once each (IN-2): whether each one was
subtracted from its batch, and the discrepancies the stock administrator settles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_inventory.domain import Administration, Outcome
from vaccinera_inventory.store.queries import discrepancies_query
from vaccinera_inventory.tables import administrations


@dataclass(frozen=True)
class DiscrepancyRow:
    administration_id: str
    batch_id: str
    vaccine_id: str
    administered_at: datetime
    decremented: bool
    discrepancy: str
    recorded_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None


class Administrations:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def record(self, administration: Administration, outcome: Outcome) -> bool:
        """Record the administration and what it did; False if it was recorded before (its
        outcome then stands, and the caller changes nothing)."""
        inserted = await self.conn.scalar(
            insert(administrations)
            .values(
                administration_id=administration.administration_id,
                batch_id=administration.batch_id,
                unit_id=administration.unit_id,
                care_provider_id=administration.care_provider_id,
                vaccine_id=administration.vaccine_id,
                administered_at=administration.administered_at,
                decremented=outcome.decremented,
                discrepancy=outcome.discrepancy,
            )
            .on_conflict_do_nothing()
            .returning(administrations.c.administration_id)
        )
        return inserted is not None

    async def decremented(self, administration_id: str, batch_id: str) -> bool | None:
        """Whether the administration took a dose from ``batch_id``; None if it is not
        recorded against that batch (unknown here, or moved already)."""
        row = (
            await self.conn.execute(
                select(administrations.c.decremented).where(
                    administrations.c.administration_id == administration_id,
                    administrations.c.batch_id == batch_id,
                )
            )
        ).first()
        return None if row is None else bool(row.decremented)

    async def moved(self, administration_id: str, batch_id: str, outcome: Outcome) -> None:
        """The administration now against ``batch_id``, with what that did to the stock."""
        await self.conn.execute(
            update(administrations)
            .where(administrations.c.administration_id == administration_id)
            .values(
                batch_id=batch_id,
                decremented=outcome.decremented,
                discrepancy=outcome.discrepancy,
                resolved_at=None,
                resolved_by=None,
            )
        )

    async def discrepancies(self, unit_id: str, limit: int) -> list[DiscrepancyRow]:
        rows = await self.conn.execute(discrepancies_query(unit_id, limit))
        return [DiscrepancyRow(**r._mapping) for r in rows]

    async def settle(self, batch_id: str, by: str | None, now: datetime) -> int:
        """A correction of the batch settles its open discrepancies: the count is the truth."""
        result = await self.conn.execute(
            update(administrations)
            .where(
                administrations.c.batch_id == batch_id,
                administrations.c.discrepancy.is_not(None),
                administrations.c.resolved_at.is_(None),
            )
            .values(resolved_at=now, resolved_by=by)
        )
        return int(result.rowcount)
