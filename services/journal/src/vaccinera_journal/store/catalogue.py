"""The vaccine catalogue (JR-1)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_journal.domain import Vaccine
from vaccinera_journal.tables import vaccines
from vaccinera_kit.database import is_unique_violation
from vaccinera_kit.errors import Conflict, NotFound


def _vaccine(row: Any) -> Vaccine:
    return Vaccine(
        vaccine_id=row.vaccine_id,
        name=row.name,
        manufacturer=row.manufacturer,
        atc_code=row.atc_code,
        doses_in_series=row.doses_in_series,
        min_interval_days=row.min_interval_days,
    )


def _values(vaccine: Vaccine) -> dict[str, Any]:
    return {
        "name": vaccine.name,
        "manufacturer": vaccine.manufacturer,
        "atc_code": vaccine.atc_code,
        "doses_in_series": vaccine.doses_in_series,
        "min_interval_days": vaccine.min_interval_days,
    }


class Catalogue:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def all(self) -> list[Vaccine]:
        rows = await self.conn.execute(select(vaccines).order_by(vaccines.c.name))
        return [_vaccine(r) for r in rows]

    async def get(self, vaccine_id: str, *, lock: bool = False) -> Vaccine:
        statement = select(vaccines).where(vaccines.c.vaccine_id == vaccine_id)
        row = (await self.conn.execute(statement.with_for_update() if lock else statement)).first()
        if row is None:
            raise NotFound(f"No vaccine {vaccine_id} in the catalogue.", code="vaccine_not_found")
        return _vaccine(row)

    async def many(self, vaccine_ids: Iterable[str]) -> dict[str, Vaccine]:
        ids = sorted(set(vaccine_ids))
        if not ids:
            return {}
        rows = await self.conn.execute(select(vaccines).where(vaccines.c.vaccine_id.in_(ids)))
        return {r.vaccine_id: _vaccine(r) for r in rows}

    async def add(self, vaccine: Vaccine, by: str, now: datetime) -> None:
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    vaccines.insert().values(
                        vaccine_id=vaccine.vaccine_id,
                        changed_at=now,
                        changed_by=by,
                        **_values(vaccine),
                    )
                )
        except IntegrityError as exc:
            if is_unique_violation(exc):
                raise Conflict(
                    f"The catalogue already has {vaccine.vaccine_id}: change it instead.",
                    code="vaccine_exists",
                ) from exc
            raise

    async def save(self, vaccine: Vaccine, by: str, now: datetime) -> None:
        await self.conn.execute(
            update(vaccines)
            .where(vaccines.c.vaccine_id == vaccine.vaccine_id)
            .values(changed_at=now, changed_by=by, **_values(vaccine))
        )
