"""Low-stock levels (IN-6): per unit and vaccine, the number of usable doses at or below which
the unit's stock is low. The warning is published once per crossing: ``low`` remembers that it
was, and only a rise above the level re-arms it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vaccinera_contracts.events import StockLow
from vaccinera_inventory.domain.batches import MAX_DOSES, Vaccine
from vaccinera_inventory.domain.common import invalid


def is_low(usable_doses: int, level: int | None) -> bool:
    """The warning the staff view shows: usable doses at or below the unit's level."""
    return level is not None and usable_doses <= level


@dataclass
class LowStockLevel:
    unit_id: str
    care_provider_id: str
    vaccine_id: str
    level: int
    # Whether the stock was low when last assessed (StockLow already published).
    low: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.level <= MAX_DOSES:
            raise invalid("level", "range", f"Give a level of 0 to {MAX_DOSES} doses.")

    def assess(
        self, usable_doses: int, vaccine: Vaccine, now: datetime, batch_id: str | None = None
    ) -> StockLow | None:
        """The stock as it is now: ``StockLow`` when it has just crossed to the level or
        below; nothing while it stays low; re-armed once it is above the level again."""
        low = is_low(usable_doses, self.level)
        crossed = low and not self.low
        self.low = low
        if not crossed:
            return None
        return StockLow(
            unit_id=self.unit_id,
            care_provider_id=self.care_provider_id,
            vaccine_id=self.vaccine_id,
            vaccine_name=vaccine.name,
            usable_doses=usable_doses,
            level=self.level,
            batch_id=batch_id,
            at=now,
        )
