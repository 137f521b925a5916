"""Events published by the identity service on ``vaccinera.identity.v1``, keyed by patient id.

No event carries a name, an address or any contact detail (ID-3, ID-8; docs/decisions/0002):
a topic keeps what it was given until retention ends, so a number published before the person
became protected would outlive the protection. The SMS sender asks identity for the number when
it sends (``Ops.SMS_RECIPIENTS``).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from vaccinera_contracts import topics
from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.identifiers import IdentifierKind, PatientIdentifier


class _PatientEvent(DomainEvent):
    topic: ClassVar[str] = topics.IDENTITY

    patient_id: str

    def aggregate_key(self) -> str:
        return self.patient_id


class PatientRegistered(_PatientEvent):
    """A patient is known to the region. The identifier travels because booking matches citizen
    logins by it and the registry export reports under it; names never do."""

    event_type: ClassVar[str] = "identity.PatientRegistered"

    identifier: PatientIdentifier
    identifier_kind: IdentifierKind
    protected: bool


class IdentifierChanged(_PatientEvent):
    """The patient's identifier changed (ID-4), e.g. reserve number to personnummer; the internal
    patient id stays. Carries both identifiers: the registry export reports doses again."""

    event_type: ClassVar[str] = "identity.IdentifierChanged"

    old: PatientIdentifier
    new: PatientIdentifier


class ProtectionChanged(_PatientEvent):
    """Protected identity set or lifted (ID-3). When set, every service purges the patient's
    contact data at once."""

    event_type: ClassVar[str] = "identity.ProtectionChanged"

    protected: bool


class ContactDetailsChanged(_PatientEvent):
    """The patient's contact details were added, changed or removed (ID-8). It says only that
    they changed, never what they are: whoever needs the number asks identity (the SMS sender
    does, and sends a message that was waiting for a number at once)."""

    event_type: ClassVar[str] = "identity.ContactDetailsChanged"


class Block(BaseModel):
    """A patient's block ("spärr") on a unit's or care provider's records (ID-5)."""

    model_config = ConfigDict(frozen=True)

    block_id: str
    scope: Literal["unit", "care_provider"]
    target_id: str
    set_at: datetime
    set_by: str


class BlocksChanged(_PatientEvent):
    """The patient's current blocks, in full (ID-5)."""

    event_type: ClassVar[str] = "identity.BlocksChanged"

    blocks: tuple[Block, ...]


class Consent(BaseModel):
    """Consent to shared record access ("samtycke", ID-6): who recorded it, when, for which
    care provider, and until when."""

    model_config = ConfigDict(frozen=True)

    consent_id: str
    care_provider_id: str
    scope: Literal["shared_record_access"]
    recorded_at: datetime
    recorded_by: str
    expires_at: datetime
    revoked_at: datetime | None = None

    def active_at(self, moment: datetime) -> bool:
        return self.revoked_at is None and moment < self.expires_at


class ConsentsChanged(_PatientEvent):
    """The patient's consents, in full (ID-6)."""

    event_type: ClassVar[str] = "identity.ConsentsChanged"

    consents: tuple[Consent, ...]
