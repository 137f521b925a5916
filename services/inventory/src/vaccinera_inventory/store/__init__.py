"""The inventory's repositories over PostgreSQL (SQLAlchemy Core on asyncpg): they load and
store the domain's objects; the statements of the hot paths live in ``queries``."""

from __future__ import annotations

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.events import BatchCheckedIn, StockChanged, StockLow
from vaccinera_inventory.store.administrations import Administrations, DiscrepancyRow
from vaccinera_inventory.store.batches import ONE_BATCH_PER_NUMBER, Batches
from vaccinera_inventory.store.levels import Levels
from vaccinera_inventory.store.overview import Overview
from vaccinera_inventory.store.queries import (
    batch_by_number_query,
    batch_query,
    discrepancies_query,
    movements_query,
    overview_query,
    unit_batches_query,
    usable_doses_query,
)
from vaccinera_inventory.store.quick_lists import QuickLists
from vaccinera_inventory.store.vaccines import Vaccines

PUBLISHES: tuple[type[DomainEvent], ...] = (BatchCheckedIn, StockChanged, StockLow)

__all__ = [
    "ONE_BATCH_PER_NUMBER",
    "PUBLISHES",
    "Administrations",
    "Batches",
    "DiscrepancyRow",
    "Levels",
    "Overview",
    "QuickLists",
    "Vaccines",
    "batch_by_number_query",
    "batch_query",
    "discrepancies_query",
    "movements_query",
    "overview_query",
    "unit_batches_query",
    "usable_doses_query",
]
