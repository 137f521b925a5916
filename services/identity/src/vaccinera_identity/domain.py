"""Identity rules, free of I/O: what a patient record is and what registering one causes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.events import PatientRegistered
from vaccinera_contracts.identifiers import PatientIdentifier


@dataclass
class Patient:
    """A person known to the region ("kund" in the FAQ). ``patient_id`` is internal and stays
    the same when the identifier changes (ID-4)."""

    patient_id: str
    identifier: PatientIdentifier
    protected: bool
    registered_at: datetime
    events: list[DomainEvent] = field(default_factory=list)


def register_patient(identifier: PatientIdentifier, *, protected: bool = False) -> Patient:
    patient = Patient(
        patient_id=str(uuid.uuid4()),
        identifier=identifier,
        protected=protected,
        registered_at=datetime.now(UTC),
    )
    patient.events.append(
        PatientRegistered(
            patient_id=patient.patient_id,
            identifier_kind=identifier.kind,
            protected=protected,
        )
    )
    return patient
