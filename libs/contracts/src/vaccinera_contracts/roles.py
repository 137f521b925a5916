"""Roles, assignments and the authenticated principal (REQUIREMENTS AC-1..AC-3)."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Role(StrEnum):
    """Staff roles (AC-3). There is deliberately no super-user role."""

    DOCTOR = "doctor"
    NURSE_PRESCRIBER = "nurse_prescriber"
    NURSE = "nurse"
    ASSISTANT_NURSE = "assistant_nurse"
    MEDICAL_SECRETARY = "medical_secretary"
    BOOKING_ONLY = "booking_only"
    TIME_BOOK_ADMIN = "time_book_admin"
    STOCK_ADMIN = "stock_admin"

    @property
    def display_name_sv(self) -> str:
        return DISPLAY_NAMES_SV[self]


# The clearer titles the FAQ's staff asked for (AC-3).
DISPLAY_NAMES_SV: dict[Role, str] = {
    Role.DOCTOR: "Läkare",
    Role.NURSE_PRESCRIBER: "Sjuksköterska med ordinationsrätt",
    Role.NURSE: "Sjuksköterska",
    Role.ASSISTANT_NURSE: "Undersköterska",
    Role.MEDICAL_SECRETARY: "Medicinsk sekreterare",
    Role.BOOKING_ONLY: "Endast bokning",
    Role.TIME_BOOK_ADMIN: "Tidboksadministratör",
    Role.STOCK_ADMIN: "Lageradministratör",
}


class Assignment(BaseModel):
    """An HSA assignment ("uppdrag"): one role at one unit of one care provider (AC-2)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    role: Role
    unit_id: str = Field(min_length=1)
    care_provider_id: str = Field(min_length=1)


# How the identity provider authenticated the person, in the token's ``amr`` claim (RFC 8176,
# "authentication methods references"): staff with their SITHS card, citizens with BankID
# (AC-1). A token's ``kind`` is believed only together with its own method.
SITHS = "siths"
BANKID = "bankid"
# A Vaccinera service acting for itself (issue 9: notifications asking identity where to send
# an SMS): the OAuth 2.0 client credentials grant (RFC 6749 section 4.4), no person involved.
CLIENT_CREDENTIALS = "client_credentials"
LOGIN_METHODS: dict[str, str] = {"staff": SITHS, "citizen": BANKID, "service": CLIENT_CREDENTIALS}


class Principal(BaseModel):
    """Who is calling, as proven by a verified token (AC-1)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["staff", "citizen", "service"]
    # Staff: the HSA-id; citizens: a pseudonym; a service: its name (the OAuth client id).
    subject: str
    hsa_id: str | None = None
    assignments: tuple[Assignment, ...] = ()
    # Citizens only: the canonical 12-digit personnummer from the BankID login.
    personnummer: str | None = None
    active_assignment: Assignment | None = None

    @property
    def is_staff(self) -> bool:
        return self.kind == "staff"

    def assignment(self, assignment_id: str) -> Assignment | None:
        return next((a for a in self.assignments if a.id == assignment_id), None)
