"""Access events on ``vaccinera.access-log.v1`` (ID-7): every service reports each read or write
of a patient's data; identity keeps them append-only."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from vaccinera_contracts import topics
from vaccinera_contracts.envelope import DomainEvent


class AccessRecorded(DomainEvent):
    """Who touched which patient's data, acting in which assignment, doing what, and why."""

    event_type: ClassVar[str] = "access.AccessRecorded"
    topic: ClassVar[str] = topics.ACCESS_LOG

    patient_id: str
    service: str
    operation: str
    action: Literal["read", "write"]
    purpose: str
    at: datetime
    # "patient_by_code": the patient, not logged in, with a booking's reference and the code
    # from its SMS (BK-2); ``actor`` then names the booking reference, and no HSA-id is given.
    actor_kind: Literal["staff", "citizen", "patient_by_code", "service"]
    # A service's reads (actor_kind "service"): its name, e.g. the SMS sender's lookups.
    actor: str
    hsa_id: str | None = None
    assignment_id: str | None = None
    role: str | None = None
    unit_id: str | None = None
    care_provider_id: str | None = None

    def aggregate_key(self) -> str:
        return self.patient_id
