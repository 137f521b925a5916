"""Events published by the identity service on ``vaccinera.identity.v1``."""

from __future__ import annotations

from typing import ClassVar

from vaccinera_contracts import topics
from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.identifiers import IdentifierKind


class PatientRegistered(DomainEvent):
    """A patient is known to the region. Carries no name, identifier or contact data:
    consumers that need more ask identity, so a protected person's data stays there (ID-3)."""

    event_type: ClassVar[str] = "identity.PatientRegistered"
    topic: ClassVar[str] = topics.IDENTITY

    patient_id: str
    identifier_kind: IdentifierKind
    protected: bool

    def aggregate_key(self) -> str:
        return self.patient_id
