"""The journal's repositories over PostgreSQL (SQLAlchemy Core on asyncpg): the catalogue,
patients' records, the batches doses are given from, and what it keeps of identity's and
booking's events."""

from __future__ import annotations

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.events import (
    AdministrationCorrected,
    DoseAdministered,
    DoseOrdered,
    HistoricalDoseRecorded,
    OrderVoided,
    VaccineRenamed,
)
from vaccinera_journal.store.batches import Batches
from vaccinera_journal.store.catalogue import Catalogue
from vaccinera_journal.store.projections import Declaration, Declarations, PatientOnFile, Patients
from vaccinera_journal.store.records import Records, load

PUBLISHES: tuple[type[DomainEvent], ...] = (
    DoseOrdered,
    OrderVoided,
    DoseAdministered,
    AdministrationCorrected,
    HistoricalDoseRecorded,
    VaccineRenamed,
)

__all__ = [
    "PUBLISHES",
    "Batches",
    "Catalogue",
    "Declaration",
    "Declarations",
    "PatientOnFile",
    "Patients",
    "Records",
    "load",
]
