"""Identity rules, free of I/O: the patient record and what each change causes.

A ``Patient`` collects the events its changes cause in ``events``; the store writes the new
state and those events in one transaction.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.events import (
    Block,
    BlocksChanged,
    Consent,
    ConsentsChanged,
    ContactDetailsChanged,
    IdentifierChanged,
    PatientRegistered,
    ProtectionChanged,
)
from vaccinera_contracts.identifiers import (
    IdentifierError,
    IdentifierKind,
    PatientIdentifier,
    parse_identifier,
)
from vaccinera_kit.errors import Conflict, DomainError, ErrorDetail, NotFound

# A consent to shared record access is given for a limited time (ID-6).
MAX_CONSENT_VALIDITY = timedelta(days=5 * 365)


@dataclass(frozen=True)
class PostalAddress:
    street: str
    postal_code: str
    city: str


@dataclass(frozen=True)
class Contact:
    mobile: str | None = None
    email: str | None = None
    address: PostalAddress | None = None

    @property
    def empty(self) -> bool:
        return self.mobile is None and self.email is None and self.address is None


@dataclass(frozen=True)
class Residence:
    """What the statistics of regional infection control (RX-4) learn of a person from the
    population register: the birth date and the municipality of residence (its code), nothing
    more. ``municipality_code`` is None for a person protected in the register (ID-3)."""

    birth_date: date
    municipality_code: str | None


def _published(residence: Residence | None, protected: bool) -> tuple[date | None, str | None]:
    """An event's birth date and municipality: a protected patient's municipality never
    leaves identity (ID-3)."""
    if residence is None:
        return None, None
    return residence.birth_date, None if protected else residence.municipality_code


class ProtectedIdentity(DomainError):
    """Contact data of a protected person is refused, never stored (ID-3)."""

    status = 422
    code = "protected_identity"


@dataclass
class Patient:
    """A person known to the region ("kund" in the FAQ). ``patient_id`` is internal and stays
    the same when the identifier changes (ID-4)."""

    patient_id: str
    identifier: PatientIdentifier
    protected: bool
    given_name: str
    family_name: str
    registered_at: datetime
    contact: Contact = field(default_factory=Contact)
    blocks: list[Block] = field(default_factory=list)
    consents: list[Consent] = field(default_factory=list)
    version: int = 0
    events: list[DomainEvent] = field(default_factory=list)

    # ID-4
    def change_identifier(self, new: PatientIdentifier, residence: Residence | None = None) -> None:
        """``residence``: the register's facts of the new identifier (RX-4), if it knows it."""
        if new.kind is IdentifierKind.RESERVNUMMER:
            raise DomainError(
                "A reserve number is issued by the region, not entered: add the patient with "
                "a new reserve number instead.",
                code="reserve_number_not_assignable",
                details=[ErrorDetail(field="identifier", rule="not_reserve_number", message="")],
            )
        if new.value == self.identifier.value:
            raise Conflict("The patient already has this identifier.", code="unchanged")
        old, self.identifier = self.identifier, new
        birth_date, municipality_code = _published(residence, self.protected)
        self.events.append(
            IdentifierChanged(
                patient_id=self.patient_id,
                old=old,
                new=new,
                municipality_code=municipality_code,
                birth_date=birth_date,
            )
        )

    # ID-8, ID-3
    def refuse_contact_if_protected(self, fields: list[str]) -> None:
        """Checked before any contact input is even validated: nothing of it is kept."""
        if self.protected:
            raise ProtectedIdentity(
                "This patient has protected identity: phone number, address and e-mail are not "
                "stored. Reach the patient the way they ask you to.",
                details=[
                    ErrorDetail(field=f, rule="protected_identity", message="Not stored.")
                    for f in fields
                ],
            )

    def set_contact(self, contact: Contact) -> None:
        self.refuse_contact_if_protected(
            [f for f in ("mobile", "email", "address") if getattr(contact, f) is not None]
        )
        if contact == self.contact:
            return
        self.contact = contact
        # That they changed, never what they are: no contact detail travels in an event.
        self.events.append(ContactDetailsChanged(patient_id=self.patient_id))

    def remove_contact(self) -> None:
        if self.contact.empty:
            return
        self.contact = Contact()
        self.events.append(ContactDetailsChanged(patient_id=self.patient_id))

    # ID-3
    def set_protection(self, protected: bool) -> None:
        if protected == self.protected:
            return
        self.protected = protected
        if protected:
            # Purge at once, here and (through the event) in every service holding any of it.
            self.contact = Contact()
        self.events.append(ProtectionChanged(patient_id=self.patient_id, protected=protected))

    # ID-5
    def set_block(
        self, scope: Literal["unit", "care_provider"], target_id: str, by: str, now: datetime
    ) -> Block:
        if any(b.scope == scope and b.target_id == target_id for b in self.blocks):
            raise Conflict(f"The patient already blocks {scope} {target_id}.", code="duplicate")
        block = Block(
            block_id=str(uuid.uuid4()), scope=scope, target_id=target_id, set_at=now, set_by=by
        )
        self.blocks.append(block)
        self._blocks_changed()
        return block

    def lift_block(self, block_id: str) -> None:
        remaining = [b for b in self.blocks if b.block_id != block_id]
        if len(remaining) == len(self.blocks):
            raise NotFound(f"No block {block_id} for this patient.")
        self.blocks = remaining
        self._blocks_changed()

    def _blocks_changed(self) -> None:
        self.events.append(BlocksChanged(patient_id=self.patient_id, blocks=tuple(self.blocks)))

    # ID-6
    def record_consent(
        self, care_provider_id: str, expires_at: datetime, by: str, now: datetime
    ) -> Consent:
        if expires_at <= now:
            raise DomainError(
                "The consent must expire in the future.",
                code="invalid_consent",
                details=[ErrorDetail(field="expires_at", rule="in_future", message="In the past.")],
            )
        if expires_at > now + MAX_CONSENT_VALIDITY:
            raise DomainError(
                "A consent may be valid for at most five years.",
                code="invalid_consent",
                details=[ErrorDetail(field="expires_at", rule="max_5_years", message="Too late.")],
            )
        consent = Consent(
            consent_id=str(uuid.uuid4()),
            care_provider_id=care_provider_id,
            scope="shared_record_access",
            recorded_at=now,
            recorded_by=by,
            expires_at=expires_at,
        )
        self.consents.append(consent)
        self._consents_changed()
        return consent

    def revoke_consent(self, consent_id: str, now: datetime) -> None:
        for i, consent in enumerate(self.consents):
            if consent.consent_id == consent_id:
                if consent.revoked_at is not None:
                    raise Conflict("The consent is already revoked.", code="already_revoked")
                self.consents[i] = consent.model_copy(update={"revoked_at": now})
                self._consents_changed()
                return
        raise NotFound(f"No consent {consent_id} for this patient.")

    def _consents_changed(self) -> None:
        self.events.append(
            ConsentsChanged(patient_id=self.patient_id, consents=tuple(self.consents))
        )


# ID-1
# --- where to send an SMS (issue 9, ID-3, NT-2) ----------------------------------------------

SmsStatus = Literal["mobile", "protected", "none", "unknown"]


@dataclass(frozen=True)
class SmsRecipient:
    """What the SMS sender is told about one patient: the mobile number, or why there is none.
    A protected person never has one, whatever a row might hold."""

    patient_id: str
    status: SmsStatus
    mobile: str | None = None


def sms_recipient(patient_id: str, found: tuple[bool, str | None] | None) -> SmsRecipient:
    """``found``: (protected, mobile) of the patient, or None when identity has no such
    patient."""
    if found is None:
        return SmsRecipient(patient_id, "unknown")
    protected, mobile = found
    if protected:
        return SmsRecipient(patient_id, "protected")
    if not mobile:
        return SmsRecipient(patient_id, "none")
    return SmsRecipient(patient_id, "mobile", mobile)


def read_identifier(raw: str, reserve_pattern: re.Pattern[str]) -> PatientIdentifier:
    """A personnummer, samordningsnummer or the region's reserve number, or why not."""
    try:
        return parse_identifier(raw, reserve_pattern=reserve_pattern)
    except IdentifierError as exc:
        raise DomainError(
            exc.message,
            code="invalid_identifier",
            details=[ErrorDetail(field="identifier", rule=exc.rule, message=exc.message)],
        ) from exc


def refuse_entered_reserve_number(identifier: PatientIdentifier) -> None:
    if identifier.kind is IdentifierKind.RESERVNUMMER:
        raise DomainError(
            "Reserve numbers are issued, not entered: use 'Add a patient with a new reserve "
            "number'.",
            code="reserve_number_not_assignable",
            details=[ErrorDetail(field="identifier", rule="not_reserve_number", message="")],
        )


# ID-8
def require_some_contact(fields: Iterable[str]) -> None:
    if not list(fields):
        raise DomainError(
            "Give a mobile number, an e-mail address or a postal address.",
            code="nothing_to_set",
            details=[ErrorDetail(field="mobile", rule="required", message="Missing.")],
        )


# ID-6
def require_time_zone(expires_at: datetime) -> None:
    if expires_at.tzinfo is None:
        raise DomainError(
            "Give the expiry with a time zone, e.g. 2027-05-31T23:59:00+02:00.",
            code="invalid_consent",
            details=[ErrorDetail(field="expires_at", rule="timezone", message="No time zone.")],
        )


def has_names(given_name: str, family_name: str) -> bool:
    return bool(given_name.strip() and family_name.strip())


def require_names(given_name: str, family_name: str) -> None:
    if not has_names(given_name, family_name):
        raise DomainError(
            "Type the patient's given and family name.",
            code="name_required",
            details=[
                ErrorDetail(field=f, rule="required", message="Type the name the patient gives.")
                for f, v in (("given_name", given_name), ("family_name", family_name))
                if not v.strip()
            ],
        )


def register_patient(
    identifier: PatientIdentifier,
    *,
    given_name: str,
    family_name: str,
    protected: bool = False,
    residence: Residence | None = None,
    now: datetime | None = None,
) -> Patient:
    """``residence``: the register's facts of the person (RX-4), if it knows them."""
    require_names(given_name, family_name)
    patient = Patient(
        patient_id=str(uuid.uuid4()),
        identifier=identifier,
        protected=protected,
        given_name=given_name.strip(),
        family_name=family_name.strip(),
        registered_at=now or datetime.now(UTC),
    )
    birth_date, municipality_code = _published(residence, protected)
    patient.events.append(
        PatientRegistered(
            patient_id=patient.patient_id,
            identifier=identifier,
            identifier_kind=identifier.kind,
            protected=protected,
            municipality_code=municipality_code,
            birth_date=birth_date,
        )
    )
    return patient


def reserve_number(prefix: str, sequence: int, width: int) -> str:
    """The region's reserve number format, e.g. ``05R000000042`` (ID-1)."""
    return f"{prefix}{sequence:0{width}d}"
