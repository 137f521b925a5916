"""The regional overview (IN-5), read in one statement per level."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_inventory.domain import Figures, Level, Period
from vaccinera_inventory.store.queries import overview_query


class Overview:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def figures(self, level: Level, period: Period, today: date) -> list[Figures]:
        rows = await self.conn.execute(overview_query(level, period, today))
        return [
            Figures(
                vaccine_id=r.vaccine_id,
                vaccine_name=r.vaccine_name,
                unit_id=r._mapping.get("unit_id"),
                care_provider_id=r._mapping.get("care_provider_id"),
                usable_doses=int(r.usable),
                expired_doses=int(r.expired),
                delivered=int(r.delivered),
                administered=int(r.administered),
                discarded=int(r.discarded),
                corrected=int(r.corrected),
            )
            for r in rows
        ]
