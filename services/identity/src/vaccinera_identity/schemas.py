"""Request and response bodies of identity's API (stored rows are never returned raw)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vaccinera_contracts.events import AccessRecorded, Block
from vaccinera_contracts.identifiers import IdentifierKind

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


class RegisterPatientIn(Strict):
    identifier: str = IDENTIFIER
    given_name: str = Field(
        default="",
        max_length=100,
        description="Only when the register gives no name: protected identity, or a person "
        "unknown to the register.",
    )
    family_name: str = NAME


class ReservePatientIn(Strict):
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str = Field(min_length=1, max_length=100)


class AddressIn(Strict):
    street: str = Field(min_length=1, max_length=100)
    postal_code: str = Field(pattern=r"^\d{3} ?\d{2}$", examples=["582 22"])
    city: str = Field(min_length=1, max_length=60)


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
