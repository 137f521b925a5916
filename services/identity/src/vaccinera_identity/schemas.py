"""Request and response bodies of identity's API, and the mappers between them and the domain
(stored rows are never returned raw)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from vaccinera_contracts.events import AccessRecorded, Block
from vaccinera_contracts.identifiers import IdentifierKind, PatientIdentifier
from vaccinera_identity import domain
from vaccinera_identity.services import Lookup

IDENTIFIER = Field(
    min_length=1,
    max_length=20,
    description="Personnummer or samordningsnummer (10 or 12 digits, with or without - or +), "
    "or a reserve number in the region's format.",
    examples=["19121212-1212"],
)
NAME = Field(default="", max_length=100)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class IdentifierIn(Strict):
    identifier: str = IDENTIFIER

    def parsed(self, reserve_pattern: re.Pattern[str]) -> PatientIdentifier:
        return domain.read_identifier(self.identifier, reserve_pattern)


class RegisterPatientIn(Strict):
    identifier: str = IDENTIFIER
    given_name: str = Field(
        default="",
        max_length=100,
        description="Only when the register gives no name: protected identity, or a person "
        "unknown to the register.",
    )
    family_name: str = NAME

    def parsed(self, reserve_pattern: re.Pattern[str]) -> PatientIdentifier:
        return domain.read_identifier(self.identifier, reserve_pattern)


class ReservePatientIn(Strict):
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)


class AddressIn(Strict):
    street: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(pattern=r"^\d{3} ?\d{2}$", examples=["582 22"])
    city: str = Field(min_length=1, max_length=60)

    def to_address(self) -> domain.PostalAddress:
        return domain.PostalAddress(self.street, self.postal_code, self.city)


class ContactIn(Strict):
    mobile: str | None = Field(default=None, max_length=30, examples=["070-123 45 67"])
    email: str | None = Field(default=None, max_length=254)
    address: AddressIn | None = None


class ProtectionIn(Strict):
    protected: bool


class BlockIn(Strict):
    scope: Literal["unit", "care_provider"]
    target_id: str = Field(min_length=1, max_length=100)


class ConsentIn(Strict):
    care_provider_id: str = Field(
        min_length=1, max_length=100, description="The care provider given access."
    )
    expires_at: datetime = Field(description="When the consent ends (at most five years).")


class AddressOut(BaseModel):
    street: str
    postal_code: str
    city: str


class ContactOut(BaseModel):
    mobile: str | None
    email: str | None
    address: AddressOut | None


class PersonOut(BaseModel):
    """What the population register says, and whether the region knows the patient."""

    identifier: str
    identifier_kind: IdentifierKind
    in_register: bool
    protected: bool
    given_name: str | None
    family_name: str | None
    address: AddressOut | None
    municipality: str | None
    patient_id: str | None


class PatientOut(BaseModel):
    patient_id: str
    identifier: str
    identifier_kind: IdentifierKind
    protected: bool
    given_name: str
    family_name: str
    registered_at: datetime
    contact: ContactOut


class ConsentOut(BaseModel):
    consent_id: str
    care_provider_id: str
    scope: str
    recorded_at: datetime
    recorded_by: str
    expires_at: datetime
    revoked_at: datetime | None
    active: bool


class BlocksOut(BaseModel):
    patient_id: str
    blocks: list[Block]


class ConsentsOut(BaseModel):
    patient_id: str
    consents: list[ConsentOut]


class AccessLogOut(BaseModel):
    patient_id: str
    entries: list[AccessRecorded]


# --- mappers ----------------------------------------------------------------------------------


def to_address_out(address: domain.PostalAddress | None) -> AddressOut | None:
    return AddressOut(**vars(address)) if address else None


def to_patient_out(patient: domain.Patient) -> PatientOut:
    c = patient.contact
    return PatientOut(
        patient_id=patient.patient_id,
        identifier=patient.identifier.value,
        identifier_kind=patient.identifier.kind,
        protected=patient.protected,
        given_name=patient.given_name,
        family_name=patient.family_name,
        registered_at=patient.registered_at,
        contact=ContactOut(mobile=c.mobile, email=c.email, address=to_address_out(c.address)),
    )


def to_person_out(lookup: Lookup) -> PersonOut:
    """The register's data when it has the person (names only if not protected, ID-3), else
    what the region knows."""
    person, known = lookup.person, lookup.patient
    if person is not None:
        given, family = person.given_name or None, person.family_name or None
    else:
        given = known.given_name if known else None
        family = known.family_name if known else None
    address = person.address if person else None
    return PersonOut(
        identifier=lookup.identifier.value,
        identifier_kind=lookup.identifier.kind,
        in_register=person is not None,
        protected=(person.protected if person else False) or bool(known and known.protected),
        given_name=given,
        family_name=family,
        address=AddressOut(**address.model_dump()) if address else None,
        municipality=person.municipality if person else None,
        patient_id=known.patient_id if known else None,
    )


def to_blocks_out(patient: domain.Patient) -> BlocksOut:
    return BlocksOut(patient_id=patient.patient_id, blocks=patient.blocks)


def to_consents_out(patient: domain.Patient) -> ConsentsOut:
    now = datetime.now(UTC)
    return ConsentsOut(
        patient_id=patient.patient_id,
        consents=[ConsentOut(**c.model_dump(), active=c.active_at(now)) for c in patient.consents],
    )


# --- where to send an SMS (issue 9) ------------------------------------------------------------


class SmsRecipientsIn(Strict):
    """The patients of one claimed batch of the SMS sender."""

    patient_ids: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        min_length=1, max_length=500
    )


class SmsRecipientOut(BaseModel):
    patient_id: str
    # mobile: text ``mobile``; protected: never text (ID-3); none: no number; unknown: no such
    # patient here.
    status: domain.SmsStatus
    mobile: str | None


class SmsRecipientsOut(BaseModel):
    recipients: list[SmsRecipientOut]


def to_sms_recipients_out(found: list[domain.SmsRecipient]) -> SmsRecipientsOut:
    return SmsRecipientsOut(
        recipients=[
            SmsRecipientOut(patient_id=r.patient_id, status=r.status, mobile=r.mobile)
            for r in found
        ]
    )
