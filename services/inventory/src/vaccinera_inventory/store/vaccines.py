"""The vaccines the inventory knows, with their current names: first named by the delivery or
the quick list that brought them, renamed only by the journal's catalogue (JR-1)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_inventory.domain import Vaccine
from vaccinera_inventory.tables import vaccines


class Vaccines:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def known(self, given: Sequence[Vaccine]) -> list[Vaccine]:
        """The vaccines as known here (their current names), each added first if new. No row
        is locked: concurrent check-ins and quick lists never wait on each other here."""
        if not given:
            return []
        # In id order: two lists adding the same new vaccines wait in the same order.
        rows = sorted(
            {v.vaccine_id: {"vaccine_id": v.vaccine_id, "name": v.name} for v in given}.values(),
            key=lambda row: row["vaccine_id"],
        )
        await self.conn.execute(insert(vaccines).values(rows).on_conflict_do_nothing())
        names = await self.names(v.vaccine_id for v in given)
        return [Vaccine(v.vaccine_id, names[v.vaccine_id]) for v in given]

    async def names(self, vaccine_ids: Iterable[str]) -> dict[str, str]:
        ids = list(dict.fromkeys(vaccine_ids))
        if not ids:
            return {}
        rows = await self.conn.execute(
            select(vaccines.c.vaccine_id, vaccines.c.name).where(vaccines.c.vaccine_id.in_(ids))
        )
        return {r.vaccine_id: r.name for r in rows}

    async def get(self, vaccine_id: str) -> Vaccine | None:
        name = (await self.names([vaccine_id])).get(vaccine_id)
        return None if name is None else Vaccine(vaccine_id, name)

    async def rename(self, vaccine_id: str, name: str, renamed_at: datetime) -> None:
        """The catalogue's new name (JR-1); a rename older than the last one applied is not."""
        statement = insert(vaccines).values(vaccine_id=vaccine_id, name=name, renamed_at=renamed_at)
        await self.conn.execute(
            statement.on_conflict_do_update(
                index_elements=[vaccines.c.vaccine_id],
                set_={"name": statement.excluded.name, "renamed_at": statement.excluded.renamed_at},
                where=or_(
                    vaccines.c.renamed_at.is_(None),
                    vaccines.c.renamed_at <= statement.excluded.renamed_at,
                ),
            )
        )
