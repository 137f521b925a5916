"""The registry export's repositories over PostgreSQL: the report ledger, reports as sent and
settled, NVR runs and the control report's entries."""

from __future__ import annotations

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_registry_export.store.control import ControlReport
from vaccinera_registry_export.store.ledger import RECEIVERS, Ledger
from vaccinera_registry_export.store.reports import Claimed, Reports
from vaccinera_registry_export.store.runs import SCHEDULE, Run, Runs

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
]
