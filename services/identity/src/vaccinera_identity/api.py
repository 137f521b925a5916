"""Identity's HTTP API: thin routes mapping requests onto domain rules and the store.

Every route is one operation of the authorization matrix (``vaccinera_contracts.access.Ops``);
every read or write of a patient's data is reported to the access log (ID-7), in the same
transaction as the read or the change (one unit of work per request).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from vaccinera_contracts.access import Operation, Ops
from vaccinera_contracts.identifiers import (
    IdentifierError,
    IdentifierKind,
    PatientIdentifier,
    parse_identifier,
)
from vaccinera_contracts.roles import Principal
from vaccinera_identity import contact, domain
from vaccinera_identity.population import PopulationRegister
from vaccinera_identity.schemas import (
    AccessLogOut,
    AddressOut,
    BlockIn,
    BlocksOut,
    ConsentIn,
    ConsentOut,
    ConsentsOut,
    ContactIn,
    ContactOut,
    IdentifierIn,
    PatientOut,
    PersonOut,
    ProtectionIn,
    RegisterPatientIn,
    ReservePatientIn,
)
from vaccinera_identity.settings import Settings
from vaccinera_identity.store import AccessLogStore, PatientStore
from vaccinera_kit.access_log import AccessLog
from vaccinera_kit.app import Service
from vaccinera_kit.auth import authorize, ensure_own
from vaccinera_kit.errors import Conflict, DomainError, ErrorDetail, Forbidden, NotFound
from vaccinera_kit.unit_of_work import UnitOfWorkFactory

router = APIRouter(tags=["patients"])
routers = (router,)


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def get_unit_of_work(request: Request) -> UnitOfWorkFactory:
    return _service(request).unit_of_work


def get_access_log(request: Request) -> AccessLog:
    return _service(request).access_log


def get_register(request: Request) -> PopulationRegister:
    register: PopulationRegister = request.app.state.population_register
    return register


# One transaction per request: the patient, its events and the access record commit together.
# The register is asked before a transaction opens, so no request holds two connections.
Transaction = Annotated[UnitOfWorkFactory, Depends(get_unit_of_work)]
Access = Annotated[AccessLog, Depends(get_access_log)]
Register = Annotated[PopulationRegister, Depends(get_register)]


def allowed(op: Operation) -> object:
    return Depends(authorize(op))


def _parse(raw: str, request: Request) -> PatientIdentifier:
    settings: Settings = _service(request).settings  # type: ignore[assignment]
    try:
        return parse_identifier(raw, reserve_pattern=settings.reserve_pattern)
    except IdentifierError as exc:
        raise DomainError(
            exc.message,
            code="invalid_identifier",
            details=[ErrorDetail(field="identifier", rule=exc.rule, message=exc.message)],
        ) from exc


async def _load(store: PatientStore, patient_id: str, principal: Principal) -> domain.Patient:
    patient = await store.get(patient_id)
    if patient is None:
        raise NotFound(f"No patient with id {patient_id}.")
    ensure_own(principal, patient.identifier.value)
    return patient


def _out(patient: domain.Patient) -> PatientOut:
    c = patient.contact
    return PatientOut(
        patient_id=patient.patient_id,
        identifier=patient.identifier.value,
        identifier_kind=patient.identifier.kind,
        protected=patient.protected,
        given_name=patient.given_name,
        family_name=patient.family_name,
        registered_at=patient.registered_at,
        contact=ContactOut(
            mobile=c.mobile,
            email=c.email,
            address=AddressOut(**vars(c.address)) if c.address else None,
        ),
    )


@router.post("/persons/lookup", response_model=PersonOut, summary=Ops.LOOKUP_PERSON.summary)
async def lookup_person(
    body: IdentifierIn,
    request: Request,
    unit_of_work: Transaction,
    register: Register,
    access: Access,
    principal: Annotated[Principal, allowed(Ops.LOOKUP_PERSON)],
) -> PersonOut:
    """The population register's answer (ID-2). A protected person comes back flagged, with
    no name and no address (ID-3)."""
    identifier = _parse(body.identifier, request)
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
    return PersonOut(
        identifier=identifier.value,
        identifier_kind=identifier.kind,
        in_register=person is not None,
        protected=(person.protected if person else False) or bool(known and known.protected),
        given_name=(person.given_name or None) if person else (known.given_name if known else None),
        family_name=(person.family_name or None)
        if person
        else (known.family_name if known else None),
        address=AddressOut(**person.address.model_dump()) if person and person.address else None,
        municipality=person.municipality if person else None,
        patient_id=known.patient_id if known else None,
    )


@router.post(
    "/patients",
    response_model=PatientOut,
    status_code=status.HTTP_201_CREATED,
    summary=Ops.REGISTER_PATIENT.summary,
    responses={200: {"description": "Already a patient: the existing record", "model": PatientOut}},
)
async def register_patient(
    body: RegisterPatientIn,
    request: Request,
    response: Response,
    unit_of_work: Transaction,
    register: Register,
    access: Access,
    principal: Annotated[Principal, allowed(Ops.REGISTER_PATIENT)],
) -> PatientOut:
    """Add a patient ("Lägg till ny kund"). Names come from the population register; for a
    protected person or one unknown to the register, staff type the name the patient gives."""
    identifier = _parse(body.identifier, request)
    if identifier.kind is IdentifierKind.RESERVNUMMER:
        raise DomainError(
            "Reserve numbers are issued, not entered: use 'Add a patient with a new reserve "
            "number'.",
            code="reserve_number_not_assignable",
            details=[ErrorDetail(field="identifier", rule="not_reserve_number", message="")],
        )
    # Asked first (and cached), so the transaction below holds its connection only briefly.
    person = await register.lookup(identifier.value)
    protected = person.protected if person else False
    named = person is not None and not protected
    given_name = person.given_name if person and named else body.given_name
    family_name = person.family_name if person and named else body.family_name
    async with unit_of_work() as uow:
        store = PatientStore(uow)
        # The common case first: a new patient is one INSERT; it finds an existing one too.
        if domain.has_names(given_name, family_name):
            patient = domain.register_patient(
                identifier, given_name=given_name, family_name=family_name, protected=protected
            )
            write = access.event(principal, Ops.REGISTER_PATIENT, patient.patient_id)
            if await store.add(patient, [write]):
                return _out(patient)
        existing = await store.by_identifier(identifier.value)
        if existing is None:
            domain.require_names(given_name, family_name)  # no name and no patient: 422
            # The identifier was moved to another patient (ID-4) between our two statements.
            raise NotFound("The patient vanished while being added; try again.")
        uow.publish(access.event(principal, Ops.REGISTER_PATIENT, existing.patient_id))
    response.status_code = status.HTTP_200_OK
    return _out(existing)


@router.post(
    "/patients/reserve",
    response_model=PatientOut,
    status_code=status.HTTP_201_CREATED,
    summary=Ops.REGISTER_RESERVE_PATIENT.summary,
)
async def register_reserve_patient(
    body: ReservePatientIn,
    request: Request,
    unit_of_work: Transaction,
    access: Access,
    principal: Annotated[Principal, allowed(Ops.REGISTER_RESERVE_PATIENT)],
) -> PatientOut:
    """ "Lägg till kund med reservnummer": the region issues a new reserve number (ID-1)."""
    settings: Settings = _service(request).settings  # type: ignore[assignment]
    async with unit_of_work() as uow:
        store = PatientStore(uow)
        number = domain.reserve_number(
            settings.reserve_prefix, await store.next_reserve_sequence(), settings.reserve_digits
        )
        patient = domain.register_patient(
            PatientIdentifier(kind=IdentifierKind.RESERVNUMMER, value=number),
            given_name=body.given_name,
            family_name=body.family_name,
        )
        write = access.event(principal, Ops.REGISTER_RESERVE_PATIENT, patient.patient_id)
        if not await store.add(patient, [write]):
            # Only if the sequence was reset below numbers already issued.
            raise Conflict(
                "The reserve number drawn is already in use; try again.",
                code="reserve_number_taken",
            )
    return _out(patient)


@router.post("/patients/search", response_model=PatientOut, summary=Ops.SEARCH_PATIENT.summary)
async def search_patient(
    body: IdentifierIn,
    request: Request,
    unit_of_work: Transaction,
    access: Access,
    principal: Annotated[Principal, allowed(Ops.SEARCH_PATIENT)],
) -> PatientOut:
    identifier = _parse(body.identifier, request)
    async with unit_of_work() as uow:
        patient = await PatientStore(uow).by_identifier(identifier.value)
        if patient is None:
            raise NotFound("No patient with this identifier.")
        uow.publish(access.event(principal, Ops.SEARCH_PATIENT, patient.patient_id))
    return _out(patient)


@router.get("/me", response_model=PatientOut, summary=Ops.GET_ME.summary)
async def get_me(
    unit_of_work: Transaction, access: Access, principal: Annotated[Principal, allowed(Ops.GET_ME)]
) -> PatientOut:
    async with unit_of_work() as uow:
        patient = await PatientStore(uow).by_identifier(principal.personnummer or "")
        if patient is None:
            raise NotFound("You are not registered as a patient in the region yet.")
        uow.publish(access.event(principal, Ops.GET_ME, patient.patient_id))
    return _out(patient)


@router.post(
    "/me",
    response_model=PatientOut,
    status_code=status.HTTP_201_CREATED,
    summary=Ops.REGISTER_ME.summary,
    responses={200: {"description": "Already a patient", "model": PatientOut}},
)
async def register_me(
    response: Response,
    unit_of_work: Transaction,
    register: Register,
    access: Access,
    principal: Annotated[Principal, allowed(Ops.REGISTER_ME)],
) -> PatientOut:
    """A citizen logged in with BankID becomes a patient, with the register's data, before
    booking online. Protected persons are registered by staff (ID-3)."""
    identifier = PatientIdentifier(
        kind=IdentifierKind.PERSONNUMMER, value=principal.personnummer or ""
    )
    person = await register.lookup(identifier.value)
    async with unit_of_work() as uow:
        store = PatientStore(uow)
        # The common case first: a new patient is one INSERT; it finds an existing one too.
        if person is not None and not person.protected:
            patient = domain.register_patient(
                identifier, given_name=person.given_name, family_name=person.family_name
            )
            write = access.event(principal, Ops.REGISTER_ME, patient.patient_id)
            if await store.add(patient, [write]):
                return _out(patient)
        existing = await store.by_identifier(identifier.value)
        if existing is None:
            if person is None:
                raise NotFound(
                    "You are not in the population register: call the vaccination unit.",
                    code="unknown_person",
                )
            if person.protected:
                raise Forbidden(
                    "With protected identity you are registered and booked by staff: call the "
                    "vaccination unit.",
                    code="protected_identity",
                )
            raise NotFound("Registration raced with another; try again.")
        uow.publish(access.event(principal, Ops.REGISTER_ME, existing.patient_id))
    response.status_code = status.HTTP_200_OK
    return _out(existing)


@router.get("/patients/{patient_id}", response_model=PatientOut, summary=Ops.GET_PATIENT.summary)
async def get_patient(
    patient_id: str,
    unit_of_work: Transaction,
    access: Access,
    principal: Annotated[Principal, allowed(Ops.GET_PATIENT)],
) -> PatientOut:
    async with unit_of_work() as uow:
        patient = await _load(PatientStore(uow), patient_id, principal)
        uow.publish(access.event(principal, Ops.GET_PATIENT, patient.patient_id))
    return _out(patient)


@router.put(
    "/patients/{patient_id}/identifier",
    response_model=PatientOut,
    summary=Ops.CHANGE_IDENTIFIER.summary,
)
async def change_identifier(
    patient_id: str,
    body: IdentifierIn,
    request: Request,
    unit_of_work: Transaction,
    access: Access,
    principal: Annotated[Principal, allowed(Ops.CHANGE_IDENTIFIER)],
) -> PatientOut:
    """ "Ändra personuppgifter" (ID-4): e.g. from a reserve number to the samordningsnummer the
    patient got later. The internal patient id stays; every service follows the event."""
    async with unit_of_work() as uow:
        store = PatientStore(uow)
        patient = await _load(store, patient_id, principal)
        patient.change_identifier(_parse(body.identifier, request))
        await store.save(patient, [access.event(principal, Ops.CHANGE_IDENTIFIER, patient_id)])
    return _out(patient)


@router.put(
    "/patients/{patient_id}/contact", response_model=PatientOut, summary=Ops.SET_CONTACT.summary
)
async def set_contact(
    patient_id: str,
    body: ContactIn,
    unit_of_work: Transaction,
    access: Access,
    principal: Annotated[Principal, allowed(Ops.SET_CONTACT)],
) -> PatientOut:
    """Any staff role, booking-only included, may add or change the mobile number (ID-8).
    Refused for a protected person: nothing is stored (ID-3)."""
    if body.mobile is None and body.email is None and body.address is None:
        raise DomainError(
            "Give a mobile number, an e-mail address or a postal address.",
            code="nothing_to_set",
            details=[ErrorDetail(field="mobile", rule="required", message="Missing.")],
        )
    async with unit_of_work() as uow:
        store = PatientStore(uow)
        patient = await _load(store, patient_id, principal)
        patient.refuse_contact_if_protected(sorted(body.model_dump(exclude_none=True)))
        patient.set_contact(
            domain.Contact(
                mobile=contact.normalize_mobile(body.mobile) if body.mobile else None,
                email=contact.normalize_email(body.email) if body.email else None,
                address=domain.PostalAddress(**body.address.model_dump()) if body.address else None,
            )
        )
        await store.save(patient, [access.event(principal, Ops.SET_CONTACT, patient_id)])
    return _out(patient)


@router.delete(
    "/patients/{patient_id}/contact",
    response_model=PatientOut,
    summary=Ops.REMOVE_CONTACT.summary,
)
async def remove_contact(
    patient_id: str,
    unit_of_work: Transaction,
    access: Access,
    principal: Annotated[Principal, allowed(Ops.REMOVE_CONTACT)],
) -> PatientOut:
    async with unit_of_work() as uow:
        store = PatientStore(uow)
        patient = await _load(store, patient_id, principal)
        patient.remove_contact()
        await store.save(patient, [access.event(principal, Ops.REMOVE_CONTACT, patient_id)])
    return _out(patient)


@router.put(
    "/patients/{patient_id}/protection",
    response_model=PatientOut,
    summary=Ops.SET_PROTECTION.summary,
)
async def set_protection(
    patient_id: str,
    body: ProtectionIn,
    unit_of_work: Transaction,
    access: Access,
    principal: Annotated[Principal, allowed(Ops.SET_PROTECTION)],
) -> PatientOut:
    """Protected identity (ID-3): setting it purges the patient's contact data here and, through
    ``ProtectionChanged``, in every service that holds any of it."""
    async with unit_of_work() as uow:
        store = PatientStore(uow)
        patient = await _load(store, patient_id, principal)
        patient.set_protection(body.protected)
        await store.save(patient, [access.event(principal, Ops.SET_PROTECTION, patient_id)])
    return _out(patient)


@router.get(
    "/patients/{patient_id}/blocks", response_model=BlocksOut, summary=Ops.LIST_BLOCKS.summary
)
async def list_blocks(
    patient_id: str,
    unit_of_work: Transaction,
    access: Access,
    principal: Annotated[Principal, allowed(Ops.LIST_BLOCKS)],
) -> BlocksOut:
    async with unit_of_work() as uow:
        patient = await _load(PatientStore(uow), patient_id, principal)
        uow.publish(access.event(principal, Ops.LIST_BLOCKS, patient_id))
    return BlocksOut(patient_id=patient_id, blocks=patient.blocks)


@router.post(
    "/patients/{patient_id}/blocks",
    response_model=BlocksOut,
    status_code=status.HTTP_201_CREATED,
    summary=Ops.SET_BLOCK.summary,
)
async def set_block(
    patient_id: str,
    body: BlockIn,
    unit_of_work: Transaction,
    access: Access,
    principal: Annotated[Principal, allowed(Ops.SET_BLOCK)],
) -> BlocksOut:
    """The patient blocks a unit's or care provider's records from shared access (ID-5)."""
    async with unit_of_work() as uow:
        store = PatientStore(uow)
        patient = await _load(store, patient_id, principal)
        patient.set_block(body.scope, body.target_id, _actor(principal), datetime.now(UTC))
        await store.save(patient, [access.event(principal, Ops.SET_BLOCK, patient_id)])
    return BlocksOut(patient_id=patient_id, blocks=patient.blocks)


@router.delete(
    "/patients/{patient_id}/blocks/{block_id}",
    response_model=BlocksOut,
    summary=Ops.LIFT_BLOCK.summary,
)
async def lift_block(
    patient_id: str,
    block_id: str,
    unit_of_work: Transaction,
    access: Access,
    principal: Annotated[Principal, allowed(Ops.LIFT_BLOCK)],
) -> BlocksOut:
    async with unit_of_work() as uow:
        store = PatientStore(uow)
        patient = await _load(store, patient_id, principal)
        patient.lift_block(block_id)
        await store.save(patient, [access.event(principal, Ops.LIFT_BLOCK, patient_id)])
    return BlocksOut(patient_id=patient_id, blocks=patient.blocks)


@router.get(
    "/patients/{patient_id}/consents",
    response_model=ConsentsOut,
    summary=Ops.LIST_CONSENTS.summary,
)
async def list_consents(
    patient_id: str,
    unit_of_work: Transaction,
    access: Access,
    principal: Annotated[Principal, allowed(Ops.LIST_CONSENTS)],
) -> ConsentsOut:
    async with unit_of_work() as uow:
        patient = await _load(PatientStore(uow), patient_id, principal)
        uow.publish(access.event(principal, Ops.LIST_CONSENTS, patient_id))
    return _consents(patient)


@router.post(
    "/patients/{patient_id}/consents",
    response_model=ConsentsOut,
    status_code=status.HTTP_201_CREATED,
    summary=Ops.RECORD_CONSENT.summary,
)
async def record_consent(
    patient_id: str,
    body: ConsentIn,
    unit_of_work: Transaction,
    access: Access,
    principal: Annotated[Principal, allowed(Ops.RECORD_CONSENT)],
) -> ConsentsOut:
    """Consent to shared record access (ID-6): who recorded it, when, for which care provider,
    until when."""
    if body.expires_at.tzinfo is None:
        raise DomainError(
            "Give the expiry with a time zone, e.g. 2027-05-31T23:59:00+02:00.",
            code="invalid_consent",
            details=[ErrorDetail(field="expires_at", rule="timezone", message="No time zone.")],
        )
    async with unit_of_work() as uow:
        store = PatientStore(uow)
        patient = await _load(store, patient_id, principal)
        patient.record_consent(
            body.care_provider_id, body.expires_at, _actor(principal), datetime.now(UTC)
        )
        await store.save(patient, [access.event(principal, Ops.RECORD_CONSENT, patient_id)])
    return _consents(patient)


@router.delete(
    "/patients/{patient_id}/consents/{consent_id}",
    response_model=ConsentsOut,
    summary=Ops.REVOKE_CONSENT.summary,
)
async def revoke_consent(
    patient_id: str,
    consent_id: str,
    unit_of_work: Transaction,
    access: Access,
    principal: Annotated[Principal, allowed(Ops.REVOKE_CONSENT)],
) -> ConsentsOut:
    async with unit_of_work() as uow:
        store = PatientStore(uow)
        patient = await _load(store, patient_id, principal)
        patient.revoke_consent(consent_id, datetime.now(UTC))
        await store.save(patient, [access.event(principal, Ops.REVOKE_CONSENT, patient_id)])
    return _consents(patient)


@router.get(
    "/patients/{patient_id}/access-log",
    response_model=AccessLogOut,
    summary=Ops.ACCESS_LOG.summary,
)
async def access_log(
    patient_id: str,
    unit_of_work: Transaction,
    access: Access,
    principal: Annotated[Principal, allowed(Ops.ACCESS_LOG)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> AccessLogOut:
    """Who read or changed this patient's data, in every service, newest first (ID-7)."""
    async with unit_of_work() as uow:
        patient = await _load(PatientStore(uow), patient_id, principal)
        entries = await AccessLogStore(uow.conn).for_patient(patient.patient_id, limit)
        uow.publish(access.event(principal, Ops.ACCESS_LOG, patient_id))
    return AccessLogOut(patient_id=patient_id, entries=entries)


def _actor(principal: Principal) -> str:
    return principal.hsa_id or principal.subject


def _consents(patient: domain.Patient) -> ConsentsOut:
    now = datetime.now(UTC)
    return ConsentsOut(
        patient_id=patient.patient_id,
        consents=[ConsentOut(**c.model_dump(), active=c.active_at(now)) for c in patient.consents],
    )
