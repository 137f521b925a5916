"""Use cases about patients: who is booked, and may they book online (BK-2, ID-3)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_booking import domain
from vaccinera_booking.domain import Patient
from vaccinera_booking.services.context import Context
from vaccinera_booking.store import Patients
from vaccinera_contracts.access import Ops
from vaccinera_contracts.roles import Principal
from vaccinera_kit.errors import Conflict, Forbidden, NotFound


async def known_patient(ctx: Context, patient_id: str) -> Patient | None:
    """The patient from booking's projection; on a miss (identity's event not consumed yet)
    from identity itself, once, remembered: no answer depends on consumer lag."""
    async with ctx.read() as conn:
        found = await Patients(conn).get(patient_id)
    if found is not None:
        return found
    return await _remember(ctx, await ctx.identity.patient(patient_id))


async def _remember(ctx: Context, patient: Patient | None) -> Patient | None:
    if patient is not None:
        async with ctx.unit_of_work() as uow:
            await Patients(uow.conn).learn(patient)
    return patient


async def projected(
    conn: AsyncConnection, principal: Principal, patient_id: str | None
) -> Patient | None:
    """The patient to book as booking's projection knows them (None: not seen yet). Read on a
    connection the caller already holds, so a booking reads everything it needs at once."""
    if principal.is_staff:
        return await Patients(conn).get(patient_id) if patient_id is not None else None
    return await Patients(conn).by_identifier(principal.personnummer or "")


async def patient_to_book(
    ctx: Context,
    principal: Principal,
    patient_id: str | None,
    found: Patient | None = None,
) -> Patient:
    """Staff name the patient; a citizen books for themselves and must be allowed to (BK-2).
    ``found`` is the projection's answer when the caller read it already."""
    if principal.is_staff:
        if patient_id is None:
            raise domain.invalid("patient_id", "required", "Name the patient to book for.")
        patient = found or await known_patient(ctx, patient_id)
        if patient is None:
            raise NotFound(
                f"No patient {patient_id}: add the patient first.", code="unknown_patient"
            )
        return patient
    if patient_id is not None:
        raise Forbidden("Citizens book for themselves only.", code="not_your_data")
    if found is None:
        async with ctx.read() as conn:
            found = await projected(conn, principal, None)
    patient = found or await _remember(ctx, await ctx.identity.me())
    if patient is None:
        raise Conflict(
            "You are not registered as a patient yet: register first (POST /api/identity/me).",
            code="not_registered",
        )
    domain.ensure_may_book_self(patient)
    return patient


async def self_booking(
    ctx: Context, principal: Principal, patient_id: str
) -> tuple[Patient, domain.SelfBooking]:
    """May this patient book online? (BK-2, ID-3)"""
    patient = await known_patient(ctx, patient_id)
    if patient is None:
        raise NotFound(f"No patient {patient_id}.")
    domain.ensure_own_patient(principal, patient)
    await ctx.access.record(principal, Ops.SELF_BOOKING, patient_id)
    return patient, domain.self_booking(patient.identifier_kind, patient.protected)
