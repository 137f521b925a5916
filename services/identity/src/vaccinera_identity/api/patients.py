"""Patients: look up in the population register, add, find, see, change the identifier and
protected identity (ID-1..ID-4)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from vaccinera_contracts.access import Ops
from vaccinera_identity import services
from vaccinera_identity.api.deps import PatientId, RegisterDep, SettingsDep
from vaccinera_identity.schemas import (
    IdentifierIn,
    PatientOut,
    PersonOut,
    ProtectionIn,
    RegisterPatientIn,
    ReservePatientIn,
    to_patient_out,
    to_person_out,
)
from vaccinera_kit.deps import AccessLogDep, Allowed, UnitOfWorkDep, endpoint

router = APIRouter(tags=["patients"])

ALREADY_A_PATIENT = {
    200: {"description": "Already a patient: the existing record", "model": PatientOut}
}


@endpoint(router, Ops.LOOKUP_PERSON, errors=(404,))
async def lookup_person(
    body: IdentifierIn,
    principal: Allowed,
    settings: SettingsDep,
    register: RegisterDep,
    unit_of_work: UnitOfWorkDep,
    access: AccessLogDep,
) -> PersonOut:
    """The population register's answer (ID-2). A protected person comes back flagged, with
    no name and no address (ID-3)."""
    identifier = body.parsed(settings.reserve_pattern)
    found = await services.lookup_person(unit_of_work, access, register, principal, identifier)
    return to_person_out(found)


@endpoint(router, Ops.REGISTER_PATIENT, status_code=201, errors=(404,), responses=ALREADY_A_PATIENT)
async def register_patient(
    body: RegisterPatientIn,
    response: Response,
    principal: Allowed,
    settings: SettingsDep,
    register: RegisterDep,
    unit_of_work: UnitOfWorkDep,
    access: AccessLogDep,
) -> PatientOut:
    """Add a patient ("Lägg till ny kund"). Names come from the population register; for a
    protected person or one unknown to the register, staff type the name the patient gives."""
    registration = await services.register_patient(
        unit_of_work,
        access,
        register,
        principal,
        body.parsed(settings.reserve_pattern),
        given_name=body.given_name,
        family_name=body.family_name,
    )
    if not registration.created:
        response.status_code = status.HTTP_200_OK
    return to_patient_out(registration.patient)


@endpoint(router, Ops.REGISTER_RESERVE_PATIENT, status_code=201, errors=(409,))
async def register_reserve_patient(
    body: ReservePatientIn,
    principal: Allowed,
    settings: SettingsDep,
    unit_of_work: UnitOfWorkDep,
    access: AccessLogDep,
) -> PatientOut:
    """ "Lägg till kund med reservnummer": the region issues a new reserve number (ID-1)."""
    patient = await services.register_reserve_patient(
        unit_of_work,
        access,
        settings,
        principal,
        given_name=body.given_name,
        family_name=body.family_name,
    )
    return to_patient_out(patient)


@endpoint(router, Ops.SEARCH_PATIENT, errors=(404,))
async def search_patient(
    body: IdentifierIn,
    principal: Allowed,
    settings: SettingsDep,
    unit_of_work: UnitOfWorkDep,
    access: AccessLogDep,
) -> PatientOut:
    identifier = body.parsed(settings.reserve_pattern)
    return to_patient_out(
        await services.search_patient(unit_of_work, access, principal, identifier)
    )


@endpoint(router, Ops.GET_ME, errors=(404,))
async def get_me(
    principal: Allowed, unit_of_work: UnitOfWorkDep, access: AccessLogDep
) -> PatientOut:
    return to_patient_out(await services.get_me(unit_of_work, access, principal))


@endpoint(router, Ops.REGISTER_ME, status_code=201, errors=(404,), responses=ALREADY_A_PATIENT)
async def register_me(
    response: Response,
    principal: Allowed,
    register: RegisterDep,
    unit_of_work: UnitOfWorkDep,
    access: AccessLogDep,
) -> PatientOut:
    """A citizen logged in with BankID becomes a patient, with the register's data, before
    booking online. Protected persons are registered by staff (ID-3)."""
    registration = await services.register_me(unit_of_work, access, register, principal)
    if not registration.created:
        response.status_code = status.HTTP_200_OK
    return to_patient_out(registration.patient)


@endpoint(router, Ops.GET_PATIENT, errors=(404,))
async def get_patient(
    patient_id: PatientId, principal: Allowed, unit_of_work: UnitOfWorkDep, access: AccessLogDep
) -> PatientOut:
    return to_patient_out(await services.get_patient(unit_of_work, access, principal, patient_id))


@endpoint(router, Ops.CHANGE_IDENTIFIER, errors=(404, 409))
async def change_identifier(
    patient_id: PatientId,
    body: IdentifierIn,
    principal: Allowed,
    settings: SettingsDep,
    register: RegisterDep,
    unit_of_work: UnitOfWorkDep,
    access: AccessLogDep,
) -> PatientOut:
    """ "Ändra personuppgifter" (ID-4): e.g. from a reserve number to the samordningsnummer the
    patient got later. The internal patient id stays; every service follows the event."""
    identifier = body.parsed(settings.reserve_pattern)
    patient = await services.change_identifier(
        unit_of_work, access, register, principal, patient_id, identifier
    )
    return to_patient_out(patient)


@endpoint(router, Ops.SET_PROTECTION, errors=(404, 409))
async def set_protection(
    patient_id: PatientId,
    body: ProtectionIn,
    principal: Allowed,
    unit_of_work: UnitOfWorkDep,
    access: AccessLogDep,
) -> PatientOut:
    """Protected identity (ID-3): setting it purges the patient's contact data here and, through
    ``ProtectionChanged``, in every service that holds any of it."""
    patient = await services.set_protection(
        unit_of_work, access, principal, patient_id, body.protected
    )
    return to_patient_out(patient)
