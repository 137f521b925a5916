"""Contact details: mobile number, e-mail and postal address (ID-8), never of a protected
person (ID-3)."""

from __future__ import annotations

from fastapi import APIRouter

from vaccinera_contracts.access import Ops
from vaccinera_identity import services
from vaccinera_identity.api.deps import PatientId
from vaccinera_identity.schemas import ContactIn, PatientOut, to_patient_out
from vaccinera_kit.deps import AccessLogDep, Allowed, UnitOfWorkDep, endpoint

router = APIRouter(tags=["contact"])


@endpoint(router, Ops.SET_CONTACT, errors=(404, 409))
async def set_contact(
    patient_id: PatientId,
    body: ContactIn,
    principal: Allowed,
    unit_of_work: UnitOfWorkDep,
    access: AccessLogDep,
) -> PatientOut:
    """Any staff role, booking-only included, may add or change the mobile number (ID-8).
    Refused for a protected person: nothing is stored (ID-3)."""
    patient = await services.set_contact(
        unit_of_work,
        access,
        principal,
        patient_id,
        mobile=body.mobile,
        email=body.email,
        address=body.address.to_address() if body.address else None,
    )
    return to_patient_out(patient)


@endpoint(router, Ops.REMOVE_CONTACT, errors=(404, 409))
async def remove_contact(
    patient_id: PatientId, principal: Allowed, unit_of_work: UnitOfWorkDep, access: AccessLogDep
) -> PatientOut:
    return to_patient_out(
        await services.remove_contact(unit_of_work, access, principal, patient_id)
    )
