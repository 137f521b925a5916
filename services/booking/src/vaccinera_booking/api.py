"""Booking's HTTP API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from vaccinera_booking import domain
from vaccinera_booking.store import PatientProjection
from vaccinera_contracts.identifiers import IdentifierKind
from vaccinera_contracts.roles import Principal
from vaccinera_kit.auth import require_staff
from vaccinera_kit.errors import NotFound

router = APIRouter(prefix="/patients", tags=["patients"])
routers = (router,)

Staff = Annotated[Principal, Depends(require_staff())]


def get_projection(request: Request) -> PatientProjection:
    return PatientProjection(request.app.state.service.db)


Projection = Annotated[PatientProjection, Depends(get_projection)]


class SelfBookingOut(BaseModel):
    patient_id: str
    identifier_kind: IdentifierKind
    protected: bool
    self_booking_allowed: bool
    reason: str | None


@router.get(
    "/{patient_id}/self-booking",
    response_model=SelfBookingOut,
    summary="May this patient book online? (BK-2)",
)
async def self_booking(patient_id: str, _: Staff, projection: Projection) -> SelfBookingOut:
    doc = await projection.get(patient_id)
    if doc is None:
        raise NotFound(f"Booking does not know patient {patient_id} (yet).")
    kind = IdentifierKind(doc["identifier_kind"])
    verdict = domain.self_booking(kind, doc["protected"])
    return SelfBookingOut(
        patient_id=patient_id,
        identifier_kind=kind,
        protected=doc["protected"],
        self_booking_allowed=verdict.allowed,
        reason=verdict.reason,
    )
