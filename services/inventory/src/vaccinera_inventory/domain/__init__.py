"""The inventory's domain, free of I/O: the batch aggregate and its balance, low-stock
levels, the quick list, the unit's stock as staff see it and the regional overview's shape.
Every rule is here, unit-tested without a database."""

from vaccinera_inventory.domain.batches import (
    DISCREPANCIES,
    MAX_DOSES,
    UNKNOWN_BATCH,
    Administration,
    Batch,
    Delivery,
    Discrepancy,
    Outcome,
    Vaccine,
    usable_batches,
)
from vaccinera_inventory.domain.common import TZ, invalid, local_day
from vaccinera_inventory.domain.levels import LowStockLevel, is_low
from vaccinera_inventory.domain.overview import Figures, Level, Period
from vaccinera_inventory.domain.quick_lists import MAX_ENTRIES, QuickList
from vaccinera_inventory.domain.stock import VaccineStock, unit_stock

__all__ = [
    "DISCREPANCIES",
    "MAX_DOSES",
    "MAX_ENTRIES",
    "TZ",
    "UNKNOWN_BATCH",
    "Administration",
    "Batch",
    "Delivery",
    "Discrepancy",
    "Figures",
    "Level",
    "LowStockLevel",
    "Outcome",
    "Period",
    "QuickList",
    "Vaccine",
    "VaccineStock",
    "invalid",
    "is_low",
    "local_day",
    "unit_stock",
    "usable_batches",
]
