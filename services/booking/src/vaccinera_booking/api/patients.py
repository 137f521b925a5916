"""Routes about the caller and patients: who am I, may this patient book online (BK-2, ID-3)."""

from __future__ import annotations

from fastapi import APIRouter

from vaccinera_booking.api.deps import ContextDep
from vaccinera_booking.schemas import SelfBookingOut
from vaccinera_booking.services import patients
from vaccinera_contracts.access import Ops
from vaccinera_kit.deps import Allowed, endpoint

router = APIRouter()


@endpoint(router, Ops.WHOAMI, tags=["session"])
async def whoami(principal: Allowed) -> dict[str, str | None]:
    """The caller as this service verified them: what a client shows after login, and the
    cheapest authenticated call (the benchmark's HTTP ceiling). No database, no patient data."""
    active = principal.active_assignment
    return {
        "kind": principal.kind,
        "hsa_id": principal.hsa_id,
        "role": active.role.value if active else None,
        "unit_id": active.unit_id if active else None,
    }


@endpoint(router, Ops.SELF_BOOKING, response_model=SelfBookingOut, tags=["patients"], errors=(404,))
async def self_booking(patient_id: str, ctx: ContextDep, principal: Allowed) -> SelfBookingOut:
    """May this patient book online? (BK-2, ID-3)"""
    patient, verdict = await patients.self_booking(ctx, principal, patient_id)
    return SelfBookingOut(
        patient_id=patient_id,
        identifier_kind=patient.identifier_kind,
        protected=patient.protected,
        self_booking_allowed=verdict.allowed,
        reason=verdict.reason,
    )
