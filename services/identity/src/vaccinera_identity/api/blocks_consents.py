"""Blocks of shared record access (ID-5) and consents to it (ID-6)."""

from __future__ import annotations

from fastapi import APIRouter

from vaccinera_contracts.access import Ops
from vaccinera_identity import services
from vaccinera_identity.api.deps import PatientId
from vaccinera_identity.schemas import (
    BlockIn,
    BlocksOut,
    ConsentIn,
    ConsentsOut,
    to_blocks_out,
    to_consents_out,
)
from vaccinera_kit.deps import AccessLogDep, Allowed, UnitOfWorkDep, endpoint

router = APIRouter(tags=["blocks and consents"])


@endpoint(router, Ops.LIST_BLOCKS, errors=(404,))
async def list_blocks(
    patient_id: PatientId, principal: Allowed, unit_of_work: UnitOfWorkDep, access: AccessLogDep
) -> BlocksOut:
    return to_blocks_out(await services.list_blocks(unit_of_work, access, principal, patient_id))


@endpoint(router, Ops.SET_BLOCK, status_code=201, errors=(404, 409))
async def set_block(
    patient_id: PatientId,
    body: BlockIn,
    principal: Allowed,
    unit_of_work: UnitOfWorkDep,
    access: AccessLogDep,
) -> BlocksOut:
    """The patient blocks a unit's or care provider's records from shared access (ID-5)."""
    patient = await services.set_block(
        unit_of_work, access, principal, patient_id, scope=body.scope, target_id=body.target_id
    )
    return to_blocks_out(patient)


@endpoint(router, Ops.LIFT_BLOCK, errors=(404, 409))
async def lift_block(
    patient_id: PatientId,
    block_id: str,
    principal: Allowed,
    unit_of_work: UnitOfWorkDep,
    access: AccessLogDep,
) -> BlocksOut:
    patient = await services.lift_block(unit_of_work, access, principal, patient_id, block_id)
    return to_blocks_out(patient)


@endpoint(router, Ops.LIST_CONSENTS, errors=(404,))
async def list_consents(
    patient_id: PatientId, principal: Allowed, unit_of_work: UnitOfWorkDep, access: AccessLogDep
) -> ConsentsOut:
    return to_consents_out(
        await services.list_consents(unit_of_work, access, principal, patient_id)
    )


@endpoint(router, Ops.RECORD_CONSENT, status_code=201, errors=(404, 409))
async def record_consent(
    patient_id: PatientId,
    body: ConsentIn,
    principal: Allowed,
    unit_of_work: UnitOfWorkDep,
    access: AccessLogDep,
) -> ConsentsOut:
    """Consent to shared record access (ID-6): who recorded it, when, for which care provider,
    until when."""
    patient = await services.record_consent(
        unit_of_work,
        access,
        principal,
        patient_id,
        care_provider_id=body.care_provider_id,
        expires_at=body.expires_at,
    )
    return to_consents_out(patient)


@endpoint(router, Ops.REVOKE_CONSENT, errors=(404, 409))
async def revoke_consent(
    patient_id: PatientId,
    consent_id: str,
    principal: Allowed,
    unit_of_work: UnitOfWorkDep,
    access: AccessLogDep,
) -> ConsentsOut:
    patient = await services.revoke_consent(unit_of_work, access, principal, patient_id, consent_id)
    return to_consents_out(patient)
