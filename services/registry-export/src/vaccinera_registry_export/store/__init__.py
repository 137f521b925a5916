"""The registry export's repositories over PostgreSQL: the report ledger, reports as sent and
settled, NVR runs, the control report's entries and the statistics for regional infection
control (RX-4)."""

from __future__ import annotations

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_registry_export.store.control import ControlReport
from vaccinera_registry_export.store.ledger import RECEIVERS, Ledger
from vaccinera_registry_export.store.reports import Claimed, Reports
from vaccinera_registry_export.store.runs import SCHEDULE, Run, Runs
from vaccinera_registry_export.store.statistics import Statistics

# It publishes nothing: what reached the registers is its ledger, read through its API.
PUBLISHES: tuple[type[DomainEvent], ...] = ()

__all__ = [
    "PUBLISHES",
    "RECEIVERS",
    "SCHEDULE",
    "Claimed",
    "ControlReport",
    "Ledger",
    "Reports",
    "Run",
    "Runs",
    "Statistics",
]
