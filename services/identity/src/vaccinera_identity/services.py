"""Identity's use cases: one function per operation of the matrix. Each opens a unit of work,
loads through the repository (``store.py``), lets the domain (``domain.py``) decide, and
commits the change, its events and the access record (ID-7) together. No HTTP, no SQL.

The population register is asked before a transaction opens, so no request holds two
connections at once.

Over 400 lines on purpose: the one module of use cases (every service has one), some twenty
operations of a few lines each, grouped by resource in the order of ``api/``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from vaccinera_contracts.access import Operation, Ops
from vaccinera_contracts.events import AccessRecorded
from vaccinera_contracts.identifiers import IdentifierKind, PatientIdentifier
from vaccinera_contracts.roles import Principal
from vaccinera_identity import contact, domain
from vaccinera_identity.domain import Patient, Residence
from vaccinera_identity.population import PopulationRegister, RegisteredPerson
from vaccinera_identity.settings import Settings
from vaccinera_identity.store import AccessLogStore, PatientStore, sms_contacts
from vaccinera_kit.access_log import AccessLog
from vaccinera_kit.auth import ensure_own
from vaccinera_kit.errors import Conflict, Forbidden, NotFound
from vaccinera_kit.unit_of_work import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True)
class Lookup:
    """A person as the register knows them, and as the region knows them (if at all)."""

    identifier: PatientIdentifier
    person: RegisteredPerson | None
    patient: Patient | None


@dataclass(frozen=True)
class Registration:
    patient: Patient
    created: bool  # False: already a patient, the existing record


# --- patients ------------------------------------------------------------------------------------


async def lookup_person(
    unit_of_work: UnitOfWorkFactory,
    access: AccessLog,
    register: PopulationRegister,
    principal: Principal,
    identifier: PatientIdentifier,
) -> Lookup:
    """The population register's answer (ID-2) and the patient, if the region has one."""
    person = (
        None
        if identifier.kind is IdentifierKind.RESERVNUMMER
        else await register.lookup(identifier.value)
    )
    async with unit_of_work() as uow:
        known = await PatientStore(uow).by_identifier(identifier.value)
        if known is not None:
            uow.publish(access.event(principal, Ops.LOOKUP_PERSON, known.patient_id))
    if person is None and known is None:
        raise NotFound(
            "Not in the population register and not a patient here. Staff can add the patient "
            "with the name the patient gives.",
            code="unknown_person",
        )
    return Lookup(identifier, person, known)


async def register_patient(
    unit_of_work: UnitOfWorkFactory,
    access: AccessLog,
    register: PopulationRegister,
    principal: Principal,
    identifier: PatientIdentifier,
    *,
    given_name: str,
    family_name: str,
) -> Registration:
    """Names come from the register; for a protected person or one unknown to it, staff type
    the name the patient gives."""
    domain.refuse_entered_reserve_number(identifier)
    person = await register.lookup(identifier.value)
    protected = person.protected if person else False
    if person is not None and not protected:
        given_name, family_name = person.given_name, person.family_name
    async with unit_of_work() as uow:
        store = PatientStore(uow)
        # The common case first: a new patient is one INSERT; it finds an existing one too.
        if domain.has_names(given_name, family_name):
            patient = domain.register_patient(
                identifier,
                given_name=given_name,
                family_name=family_name,
                protected=protected,
                residence=_residence(person),
            )
            write = access.event(principal, Ops.REGISTER_PATIENT, patient.patient_id)
            if await store.add(patient, [write]):
                return Registration(patient, created=True)
        existing = await store.by_identifier(identifier.value)
        if existing is None:
            domain.require_names(given_name, family_name)  # no name and no patient: 422
            # The identifier was moved to another patient (ID-4) between our two statements.
            raise NotFound("The patient vanished while being added; try again.")
        uow.publish(access.event(principal, Ops.REGISTER_PATIENT, existing.patient_id))
    return Registration(existing, created=False)


async def register_reserve_patient(
    unit_of_work: UnitOfWorkFactory,
    access: AccessLog,
    settings: Settings,
    principal: Principal,
    *,
    given_name: str,
    family_name: str,
) -> Patient:
    """The region issues a new reserve number (ID-1)."""
    async with unit_of_work() as uow:
        store = PatientStore(uow)
        number = domain.reserve_number(
            settings.reserve_prefix, await store.next_reserve_sequence(), settings.reserve_digits
        )
        patient = domain.register_patient(
            PatientIdentifier(kind=IdentifierKind.RESERVNUMMER, value=number),
            given_name=given_name,
            family_name=family_name,
        )
        write = access.event(principal, Ops.REGISTER_RESERVE_PATIENT, patient.patient_id)
        if not await store.add(patient, [write]):
            # Only if the sequence was reset below numbers already issued.
            raise Conflict(
                "The reserve number drawn is already in use; try again.",
                code="reserve_number_taken",
            )
    return patient


async def search_patient(
    unit_of_work: UnitOfWorkFactory,
    access: AccessLog,
    principal: Principal,
    identifier: PatientIdentifier,
) -> Patient:
    async with unit_of_work() as uow:
        patient = await PatientStore(uow).by_identifier(identifier.value)
        if patient is None:
            raise NotFound("No patient with this identifier.")
        uow.publish(access.event(principal, Ops.SEARCH_PATIENT, patient.patient_id))
    return patient


async def get_me(
    unit_of_work: UnitOfWorkFactory, access: AccessLog, principal: Principal
) -> Patient:
    async with unit_of_work() as uow:
        patient = await PatientStore(uow).by_identifier(principal.personnummer or "")
        if patient is None:
            raise NotFound("You are not registered as a patient in the region yet.")
        uow.publish(access.event(principal, Ops.GET_ME, patient.patient_id))
    return patient


async def register_me(
    unit_of_work: UnitOfWorkFactory,
    access: AccessLog,
    register: PopulationRegister,
    principal: Principal,
) -> Registration:
    """A citizen logged in with BankID becomes a patient with the register's data. Protected
    persons are registered by staff (ID-3)."""
    identifier = PatientIdentifier(
        kind=IdentifierKind.PERSONNUMMER, value=principal.personnummer or ""
    )
    person = await register.lookup(identifier.value)
    async with unit_of_work() as uow:
        store = PatientStore(uow)
        if person is not None and not person.protected:
            patient = domain.register_patient(
                identifier,
                given_name=person.given_name,
                family_name=person.family_name,
                residence=_residence(person),
            )
            write = access.event(principal, Ops.REGISTER_ME, patient.patient_id)
            if await store.add(patient, [write]):
                return Registration(patient, created=True)
        existing = await store.by_identifier(identifier.value)
        if existing is None:
            raise _not_registrable(person)
        uow.publish(access.event(principal, Ops.REGISTER_ME, existing.patient_id))
    return Registration(existing, created=False)


def _not_registrable(person: RegisteredPerson | None) -> Exception:
    if person is None:
        return NotFound(
            "You are not in the population register: call the vaccination unit.",
            code="unknown_person",
        )
    if person.protected:
        return Forbidden(
            "With protected identity you are registered and booked by staff: call the "
            "vaccination unit.",
            code="protected_identity",
        )
    return NotFound("Registration raced with another; try again.")


async def get_patient(
    unit_of_work: UnitOfWorkFactory, access: AccessLog, principal: Principal, patient_id: str
) -> Patient:
    return await _read(unit_of_work, access, principal, Ops.GET_PATIENT, patient_id)


async def change_identifier(
    unit_of_work: UnitOfWorkFactory,
    access: AccessLog,
    register: PopulationRegister,
    principal: Principal,
    patient_id: str,
    identifier: PatientIdentifier,
) -> Patient:
    """ID-4: the internal patient id stays; every service follows the event, which names the
    register's birth date and municipality of the new identifier (RX-4)."""
    person = (
        None
        if identifier.kind is IdentifierKind.RESERVNUMMER
        else await register.lookup(identifier.value)
    )
    return await _change(
        unit_of_work,
        access,
        principal,
        Ops.CHANGE_IDENTIFIER,
        patient_id,
        lambda patient: patient.change_identifier(identifier, _residence(person)),
    )


async def set_protection(
    unit_of_work: UnitOfWorkFactory,
    access: AccessLog,
    principal: Principal,
    patient_id: str,
    protected: bool,
) -> Patient:
    """ID-3: protection purges the contact data here and, through ``ProtectionChanged``, in
    every service holding any of it."""
    return await _change(
        unit_of_work,
        access,
        principal,
        Ops.SET_PROTECTION,
        patient_id,
        lambda patient: patient.set_protection(protected),
    )


# --- contact details (ID-8, ID-3) -----------------------------------------------------------------


async def set_contact(
    unit_of_work: UnitOfWorkFactory,
    access: AccessLog,
    principal: Principal,
    patient_id: str,
    *,
    mobile: str | None,
    email: str | None,
    address: domain.PostalAddress | None,
) -> Patient:
    """Refused for a protected person before the input is even validated: nothing of it is
    kept (ID-3)."""
    given = [
        f for f, v in (("address", address), ("email", email), ("mobile", mobile)) if v is not None
    ]
    domain.require_some_contact(given)

    def change(patient: Patient) -> None:
        patient.refuse_contact_if_protected(given)
        patient.set_contact(
            domain.Contact(
                mobile=contact.normalize_mobile(mobile) if mobile else None,
                email=contact.normalize_email(email) if email else None,
                address=address,
            )
        )

    return await _change(unit_of_work, access, principal, Ops.SET_CONTACT, patient_id, change)


async def remove_contact(
    unit_of_work: UnitOfWorkFactory, access: AccessLog, principal: Principal, patient_id: str
) -> Patient:
    return await _change(
        unit_of_work,
        access,
        principal,
        Ops.REMOVE_CONTACT,
        patient_id,
        lambda patient: patient.remove_contact(),
    )


# --- blocks (ID-5) and consents (ID-6) --------------------------------------------------------------


# --- where to send an SMS (issue 9, ID-3) ---------------------------------------------------------


async def sms_recipients(
    unit_of_work: UnitOfWorkFactory,
    access: AccessLog,
    principal: Principal,
    patient_ids: list[str],
) -> list[domain.SmsRecipient]:
    """The SMS sender's question for one claimed batch: each patient's mobile number, or
    "protected", "none", "unknown". Each patient's record read is logged (ID-7), by the
    service, for SMS delivery."""
    ids = list(dict.fromkeys(patient_ids))
    async with unit_of_work() as uow:
        found = await sms_contacts(uow.conn, ids)
        uow.publish(*(access.event(principal, Ops.SMS_RECIPIENTS, pid) for pid in found))
    return [domain.sms_recipient(pid, found.get(pid)) for pid in ids]


async def list_blocks(
    unit_of_work: UnitOfWorkFactory, access: AccessLog, principal: Principal, patient_id: str
) -> Patient:
    return await _read(unit_of_work, access, principal, Ops.LIST_BLOCKS, patient_id)


async def set_block(
    unit_of_work: UnitOfWorkFactory,
    access: AccessLog,
    principal: Principal,
    patient_id: str,
    *,
    scope: Literal["unit", "care_provider"],
    target_id: str,
) -> Patient:
    """The patient blocks a unit's or care provider's records from shared access."""
    now = datetime.now(UTC)
    return await _change(
        unit_of_work,
        access,
        principal,
        Ops.SET_BLOCK,
        patient_id,
        lambda patient: patient.set_block(scope, target_id, _actor(principal), now),
    )


async def lift_block(
    unit_of_work: UnitOfWorkFactory,
    access: AccessLog,
    principal: Principal,
    patient_id: str,
    block_id: str,
) -> Patient:
    return await _change(
        unit_of_work,
        access,
        principal,
        Ops.LIFT_BLOCK,
        patient_id,
        lambda patient: patient.lift_block(block_id),
    )


async def list_consents(
    unit_of_work: UnitOfWorkFactory, access: AccessLog, principal: Principal, patient_id: str
) -> Patient:
    return await _read(unit_of_work, access, principal, Ops.LIST_CONSENTS, patient_id)


async def record_consent(
    unit_of_work: UnitOfWorkFactory,
    access: AccessLog,
    principal: Principal,
    patient_id: str,
    *,
    care_provider_id: str,
    expires_at: datetime,
) -> Patient:
    """Who recorded it, when, for which care provider, until when (ID-6)."""
    domain.require_time_zone(expires_at)
    now = datetime.now(UTC)
    return await _change(
        unit_of_work,
        access,
        principal,
        Ops.RECORD_CONSENT,
        patient_id,
        lambda patient: patient.record_consent(
            care_provider_id, expires_at, _actor(principal), now
        ),
    )


async def revoke_consent(
    unit_of_work: UnitOfWorkFactory,
    access: AccessLog,
    principal: Principal,
    patient_id: str,
    consent_id: str,
) -> Patient:
    now = datetime.now(UTC)
    return await _change(
        unit_of_work,
        access,
        principal,
        Ops.REVOKE_CONSENT,
        patient_id,
        lambda patient: patient.revoke_consent(consent_id, now),
    )


# --- the access log (ID-7) --------------------------------------------------------------------------


async def access_log(
    unit_of_work: UnitOfWorkFactory,
    access: AccessLog,
    principal: Principal,
    patient_id: str,
    limit: int,
) -> list[AccessRecorded]:
    """Who read or changed this patient's data, in every service, newest first."""
    async with unit_of_work() as uow:
        patient = await _load(uow, principal, patient_id)
        entries = await AccessLogStore(uow.conn).for_patient(patient.patient_id, limit)
        uow.publish(access.event(principal, Ops.ACCESS_LOG, patient_id))
    return entries


async def record_access(uow: UnitOfWork, event_id: uuid.UUID, entry: AccessRecorded) -> None:
    """An access of any service lands in the append-only log (the consumer's unit of work)."""
    await AccessLogStore(uow.conn).append(event_id, entry)


# --- the shapes every patient operation has ---------------------------------------------------------


async def _load(uow: UnitOfWork, principal: Principal, patient_id: str) -> Patient:
    patient = await PatientStore(uow).get(patient_id)
    if patient is None:
        raise NotFound(f"No patient with id {patient_id}.")
    ensure_own(principal, patient.identifier.value)
    return patient


async def _read(
    unit_of_work: UnitOfWorkFactory,
    access: AccessLog,
    principal: Principal,
    op: Operation,
    patient_id: str,
) -> Patient:
    """Load a patient the caller may see, recording the read."""
    async with unit_of_work() as uow:
        patient = await _load(uow, principal, patient_id)
        uow.publish(access.event(principal, op, patient.patient_id))
    return patient


async def _change(
    unit_of_work: UnitOfWorkFactory,
    access: AccessLog,
    principal: Principal,
    op: Operation,
    patient_id: str,
    change: Callable[[Patient], object],
) -> Patient:
    """Load, let the domain change the patient, save it with its events and the access
    record: one transaction."""
    async with unit_of_work() as uow:
        store = PatientStore(uow)
        patient = await _load(uow, principal, patient_id)
        change(patient)
        await store.save(patient, [access.event(principal, op, patient_id)])
    return patient


def _residence(person: RegisteredPerson | None) -> Residence | None:
    """The register's facts the coverage statistics need (RX-4); a person protected in the
    register has no municipality outside identity (ID-3)."""
    if person is None:
        return None
    return Residence(
        birth_date=person.birth_date,
        municipality_code=None if person.protected else person.municipality_code,
    )


def _actor(principal: Principal) -> str:
    return principal.hsa_id or principal.subject
