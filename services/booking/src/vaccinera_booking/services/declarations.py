"""Use cases of the health declaration (BK-2, BK-12): a unit's questions, a declaration without
a booking through the unit's link, and reading the declaration given with a booking."""

from __future__ import annotations

import uuid
from typing import Any

from vaccinera_booking import domain
from vaccinera_booking.domain import Declaration, Question, Questionnaire
from vaccinera_booking.services.bookings import booking
from vaccinera_booking.services.context import Context, now
from vaccinera_booking.services.patients import patient_to_book
from vaccinera_booking.store import Declarations
from vaccinera_contracts.access import Ops
from vaccinera_contracts.identifiers import IdentifierKind
from vaccinera_contracts.roles import Principal
from vaccinera_kit.auth import ensure_unit
from vaccinera_kit.errors import NotFound


async def questionnaire(ctx: Context, unit_id: str) -> Questionnaire:
    async with ctx.read() as conn:
        return await Declarations(conn).questionnaire(unit_id)


async def set_questionnaire(
    ctx: Context, principal: Principal, unit_id: str, questions: tuple[Question, ...]
) -> Questionnaire:
    """A new version of the unit's questions; declarations keep the version they answered."""
    ensure_unit(principal, unit_id)
    domain.check_questions(questions)
    async with ctx.unit_of_work() as uow:
        return await Declarations(uow.conn).set_questionnaire(
            unit_id, questions, principal.hsa_id or principal.subject
        )


async def declare(
    ctx: Context,
    principal: Principal,
    unit_id: str,
    patient_id: str | None,
    version: int,
    answers: dict[str, Any],
) -> Declaration:
    """A health declaration without a booking, through the unit's link (BK-12), e.g. for staff
    vaccination. Not for reserve-number patients: they answer at the visit."""
    ensure_unit(principal, unit_id)
    patient = await patient_to_book(ctx, principal, patient_id)
    if patient.identifier_kind is IdentifierKind.RESERVNUMMER:
        raise domain.invalid(
            "patient_id",
            "reserve_number",
            "Patients with a reserve number fill in the declaration at the visit.",
        )
    declaration = Declaration.answer(
        declaration_id=str(uuid.uuid4()),
        patient_id=patient.patient_id,
        questionnaire=await questionnaire(ctx, unit_id),
        version=version,
        answers=answers,
        booking_id=None,
        now=now(),
    )
    async with ctx.unit_of_work() as uow:
        await Declarations(uow.conn).add(declaration)
        uow.publish(
            declaration.submitted(), ctx.access.event(principal, Ops.DECLARE, patient.patient_id)
        )
    return declaration


async def of_booking(ctx: Context, principal: Principal, booking_id: str) -> Declaration:
    found = await booking(ctx, principal, booking_id)
    async with ctx.read() as conn:
        declaration = await Declarations(conn).for_booking(booking_id)
    if declaration is None:
        raise NotFound("No health declaration was given with this booking.")
    await ctx.access.record(principal, Ops.GET_DECLARATION, found.patient_id)
    return declaration
