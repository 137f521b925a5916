"""Booking's HTTP API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from vaccinera_booking import domain
from vaccinera_booking.store import PatientProjection
from vaccinera_contracts.access import Ops
from vaccinera_contracts.identifiers import IdentifierKind
from vaccinera_contracts.roles import Principal
from vaccinera_kit.access_log import AccessLog
from vaccinera_kit.auth import authorize, ensure_own
from vaccinera_kit.errors import NotFound

router = APIRouter(prefix="/patients", tags=["patients"])
routers = (router,)


def get_projection(request: Request) -> PatientProjection:
    return PatientProjection(request.app.state.service.db)


def get_access_log(request: Request) -> AccessLog:
    access: AccessLog = request.app.state.service.access_log
    return access


Projection = Annotated[PatientProjection, Depends(get_projection)]
Access = Annotated[AccessLog, Depends(get_access_log)]


class SelfBookingOut(BaseModel):
    patient_id: str
    identifier_kind: IdentifierKind
    protected: bool
    self_booking_allowed: bool
    reason: str | None


@router.get(
    "/{patient_id}/self-booking",
    response_model=SelfBookingOut,
    summary=Ops.SELF_BOOKING.summary,
)
async def self_booking(
    patient_id: str,
    projection: Projection,
    access: Access,
    principal: Annotated[Principal, Depends(authorize(Ops.SELF_BOOKING))],
) -> SelfBookingOut:
    """May this patient book online? (BK-2, ID-3)"""
    doc = await projection.get(patient_id)
    if doc is None:
        raise NotFound(f"Booking does not know patient {patient_id} (yet).")
    ensure_own(principal, doc["identifier"]["value"])
    await access.record(principal, Ops.SELF_BOOKING, patient_id)
    kind = IdentifierKind(doc["identifier"]["kind"])
    verdict = domain.self_booking(kind, doc["protected"])
    return SelfBookingOut(
        patient_id=patient_id,
        identifier_kind=kind,
        protected=doc["protected"],
        self_booking_allowed=verdict.allowed,
        reason=verdict.reason,
    )
