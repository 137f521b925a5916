"""Batches and their movements. A batch is stored with the events it recorded: each becomes a
row of its history (``movements``) and is staged in the same unit of work, so the balance,
its history and the events commit together (transactional outbox)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.events import BatchCheckedIn, StockChanged
from vaccinera_inventory.domain import Batch, Vaccine
from vaccinera_inventory.store.queries import (
    batch_by_number_query,
    batch_query,
    movements_query,
    unit_batches_query,
    usable_doses_query,
)
from vaccinera_inventory.tables import batches, movements
from vaccinera_kit.database import is_unique_violation
from vaccinera_kit.errors import Conflict
from vaccinera_kit.unit_of_work import UnitOfWork

ONE_BATCH_PER_NUMBER = "uq_batches_unit_id_vaccine_id_batch_number"


def _batch(row: Any) -> Batch:
    return Batch(
        batch_id=row.batch_id,
        unit_id=row.unit_id,
        care_provider_id=row.care_provider_id,
        vaccine=Vaccine(row.vaccine_id, row.vaccine_name),
        batch_number=row.batch_number,
        expires_on=row.expires_on,
        balance=row.balance,
        delivered=row.delivered,
        checked_in_at=row.checked_in_at,
    )


def _movement(event: DomainEvent) -> dict[str, Any] | None:
    """The history row of a batch's event."""
    if isinstance(event, BatchCheckedIn):
        return {
            "batch_id": event.batch_id,
            "unit_id": event.unit_id,
            "care_provider_id": event.care_provider_id,
            "vaccine_id": event.vaccine_id,
            "change": "checked_in",
            "delta": event.doses,
            "balance": event.balance,
            "reason": None,
            "by_hsa_id": event.checked_in_by_hsa_id,
            "administration_id": None,
            "delivery_id": event.delivery_id,
            "at": event.checked_in_at,
        }
    if isinstance(event, StockChanged):
        return {
            "batch_id": event.batch_id,
            "unit_id": event.unit_id,
            "care_provider_id": event.care_provider_id,
            "vaccine_id": event.vaccine_id,
            "change": event.change,
            "delta": event.delta,
            "balance": event.balance,
            "reason": event.reason,
            "by_hsa_id": event.by_hsa_id,
            "administration_id": event.administration_id,
            "delivery_id": None,
            "at": event.at,
        }
    return None


class Batches:
    """Over a unit of work (changes) or a plain connection (reads)."""

    def __init__(self, source: UnitOfWork | AsyncConnection) -> None:
        self.uow = source if isinstance(source, UnitOfWork) else None
        self.conn = source.conn if isinstance(source, UnitOfWork) else source

    async def add(self, batch: Batch) -> None:
        """A new batch; a racing check-in of the same batch number gets 409."""
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    batches.insert().values(
                        batch_id=batch.batch_id,
                        unit_id=batch.unit_id,
                        care_provider_id=batch.care_provider_id,
                        vaccine_id=batch.vaccine.vaccine_id,
                        batch_number=batch.batch_number,
                        expires_on=batch.expires_on,
                        balance=batch.balance,
                        delivered=batch.delivered,
                        checked_in_at=batch.checked_in_at,
                    )
                )
        except IntegrityError as exc:
            if is_unique_violation(exc, ONE_BATCH_PER_NUMBER):
                raise Conflict(
                    "This batch was checked in at the same moment by someone else; look at the "
                    "stock and check in again if the delivery is not there.",
                    code="concurrent_check_in",
                ) from exc
            raise
        await self._record(batch)

    async def save(self, batch: Batch) -> None:
        """The batch's balance after its change (a row it holds locked), and its history."""
        await self.conn.execute(
            update(batches)
            .where(batches.c.batch_id == batch.batch_id)
            .values(balance=batch.balance, delivered=batch.delivered)
        )
        await self._record(batch)

    async def _record(self, batch: Batch) -> None:
        if self.uow is None:
            raise RuntimeError("batches change only in a unit of work")
        rows = [row for row in map(_movement, batch.events) if row is not None]
        if rows:
            await self.conn.execute(movements.insert(), rows)
        self.uow.publish(*batch.events)
        batch.events.clear()

    async def get(self, batch_id: str, *, lock: bool = False) -> Batch | None:
        row = (await self.conn.execute(batch_query(batch_id, lock=lock))).first()
        return _batch(row) if row else None

    async def by_number(self, unit_id: str, vaccine_id: str, batch_number: str) -> Batch | None:
        """The unit's batch of this number, locked (a second delivery adds to it)."""
        row = (
            await self.conn.execute(batch_by_number_query(unit_id, vaccine_id, batch_number))
        ).first()
        return _batch(row) if row else None

    async def in_stock(self, unit_id: str, vaccine_id: str | None = None) -> list[Batch]:
        """The unit's batches with doses left."""
        return [_batch(r) for r in await self.conn.execute(unit_batches_query(unit_id, vaccine_id))]

    async def usable_doses(self, unit_id: str, vaccine_id: str, today: date) -> int:
        return int(await self.conn.scalar(usable_doses_query(unit_id, vaccine_id, today)) or 0)

    async def history(self, batch_id: str, limit: int = 200) -> list[dict[str, Any]]:
        rows = await self.conn.execute(movements_query(batch_id, limit))
        return [dict(r._mapping) for r in rows]
