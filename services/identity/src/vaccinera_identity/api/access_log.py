"""A patient's access log ("loggutdrag", ID-7): who read or changed the patient's data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from vaccinera_contracts.access import Ops
from vaccinera_identity import services
from vaccinera_identity.api.deps import PatientId
from vaccinera_identity.schemas import AccessLogOut
from vaccinera_kit.deps import AccessLogDep, Allowed, UnitOfWorkDep, endpoint

router = APIRouter(tags=["access log"])


@endpoint(router, Ops.ACCESS_LOG, errors=(404,))
async def access_log(
    patient_id: PatientId,
    principal: Allowed,
    unit_of_work: UnitOfWorkDep,
    access: AccessLogDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> AccessLogOut:
    """Who read or changed this patient's data, in every service, newest first (ID-7)."""
    entries = await services.access_log(unit_of_work, access, principal, patient_id, limit)
    return AccessLogOut(patient_id=patient_id, entries=entries)
