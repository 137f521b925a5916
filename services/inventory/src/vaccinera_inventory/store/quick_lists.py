"""Quick lists: per unit, the vaccine ids in the unit's order."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_inventory.domain import QuickList, Vaccine
from vaccinera_inventory.store.vaccines import Vaccines
from vaccinera_inventory.tables import quick_lists


class QuickLists:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, unit_id: str) -> QuickList:
        """The unit's list with each vaccine's current name (an empty list if none is set)."""
        ids: list[str] | None = await self.conn.scalar(
            select(quick_lists.c.vaccine_ids).where(quick_lists.c.unit_id == unit_id)
        )
        names = await Vaccines(self.conn).names(ids or [])
        return QuickList(unit_id, tuple(Vaccine(i, names[i]) for i in ids or [] if i in names))

    async def put(self, quick_list: QuickList, by: str | None) -> None:
        values = {"vaccine_ids": [v.vaccine_id for v in quick_list.vaccines], "changed_by": by}
        await self.conn.execute(
            insert(quick_lists)
            .values(unit_id=quick_list.unit_id, **values)
            .on_conflict_do_update(
                index_elements=[quick_lists.c.unit_id], set_={**values, "changed_at": func.now()}
            )
        )
