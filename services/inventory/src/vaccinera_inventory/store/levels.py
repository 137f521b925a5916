"""Low-stock levels per unit and vaccine, with whether the current crossing was published."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_inventory.domain import LowStockLevel, Vaccine
from vaccinera_inventory.tables import low_stock_levels, vaccines

_COLUMNS = (
    low_stock_levels.c.unit_id,
    low_stock_levels.c.care_provider_id,
    low_stock_levels.c.vaccine_id,
    low_stock_levels.c.level,
    low_stock_levels.c.low,
)


def _level(row: Any) -> LowStockLevel:
    return LowStockLevel(row.unit_id, row.care_provider_id, row.vaccine_id, row.level, row.low)


class Levels:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def lock(self, unit_id: str, vaccine_id: str) -> LowStockLevel | None:
        """The level, locked until commit: a unit's changes of one vaccine assess it one at
        a time, each seeing the others' balances, so one crossing gives one StockLow. Every
        change locks its batch first and the level after, so two never wait on each other
        the other way round."""
        row = (
            await self.conn.execute(
                select(*_COLUMNS)
                .where(
                    low_stock_levels.c.unit_id == unit_id,
                    low_stock_levels.c.vaccine_id == vaccine_id,
                )
                .with_for_update()
            )
        ).first()
        return _level(row) if row else None

    async def put(self, level: LowStockLevel, by: str | None) -> LowStockLevel:
        """Set the level (locking it); whether the current crossing was published stays."""
        statement = insert(low_stock_levels).values(
            unit_id=level.unit_id,
            vaccine_id=level.vaccine_id,
            care_provider_id=level.care_provider_id,
            level=level.level,
            set_by=by,
        )
        row = (
            await self.conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[low_stock_levels.c.unit_id, low_stock_levels.c.vaccine_id],
                    set_={
                        "level": statement.excluded.level,
                        "care_provider_id": statement.excluded.care_provider_id,
                        "set_by": statement.excluded.set_by,
                        "set_at": func.now(),
                    },
                ).returning(*_COLUMNS)
            )
        ).one()
        return _level(row)

    async def mark(self, level: LowStockLevel) -> None:
        await self.conn.execute(
            update(low_stock_levels)
            .where(
                low_stock_levels.c.unit_id == level.unit_id,
                low_stock_levels.c.vaccine_id == level.vaccine_id,
            )
            .values(low=level.low)
        )

    async def for_unit(self, unit_id: str) -> dict[str, tuple[Vaccine, int]]:
        """The unit's levels: vaccine id → (vaccine, level)."""
        rows = await self.conn.execute(
            select(low_stock_levels.c.vaccine_id, vaccines.c.name, low_stock_levels.c.level)
            .join_from(
                low_stock_levels,
                vaccines,
                low_stock_levels.c.vaccine_id == vaccines.c.vaccine_id,
            )
            .where(low_stock_levels.c.unit_id == unit_id)
        )
        return {r.vaccine_id: (Vaccine(r.vaccine_id, r.name), r.level) for r in rows}

    async def all_keys(self) -> list[tuple[str, str]]:
        """Every (unit, vaccine) with a level, for the periodic check after expiries."""
        rows = await self.conn.execute(
            select(low_stock_levels.c.unit_id, low_stock_levels.c.vaccine_id).order_by(
                low_stock_levels.c.unit_id, low_stock_levels.c.vaccine_id
            )
        )
        return [(r.unit_id, r.vaccine_id) for r in rows]
