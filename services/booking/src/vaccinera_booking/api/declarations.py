"""Routes of the health declaration (BK-2, BK-12): a unit's questions, a declaration through
the unit's link, and the declaration given with a booking."""

from __future__ import annotations

from fastapi import APIRouter

from vaccinera_booking.api.deps import ContextDep
from vaccinera_booking.schemas import (
    DeclarationOut,
    QuestionnaireIn,
    QuestionnaireOut,
    StandaloneDeclarationIn,
    declaration_out,
    questionnaire_out,
)
from vaccinera_booking.services import declarations
from vaccinera_contracts.access import Ops
from vaccinera_kit.deps import Allowed, endpoint

router = APIRouter(tags=["health declaration"])


@endpoint(router, Ops.GET_QUESTIONNAIRE, response_model=QuestionnaireOut)
async def get_questionnaire(unit_id: str, ctx: ContextDep) -> QuestionnaireOut:
    """The unit's current questions and their version (answer with that version)."""
    return questionnaire_out(await declarations.questionnaire(ctx, unit_id))


@endpoint(router, Ops.SET_QUESTIONNAIRE, response_model=QuestionnaireOut)
async def set_questionnaire(
    unit_id: str, body: QuestionnaireIn, ctx: ContextDep, principal: Allowed
) -> QuestionnaireOut:
    """A new version of the unit's questions; declarations keep the version they answered."""
    changed = await declarations.set_questionnaire(ctx, principal, unit_id, body.to_questions())
    return questionnaire_out(changed)


@endpoint(router, Ops.DECLARE, status_code=201, response_model=DeclarationOut, errors=(404, 409))
async def declare(
    unit_id: str, body: StandaloneDeclarationIn, ctx: ContextDep, principal: Allowed
) -> DeclarationOut:
    """A health declaration without a booking, through the unit's link (BK-12), e.g. for staff
    vaccination. Not for reserve-number patients."""
    declaration = await declarations.declare(
        ctx, principal, unit_id, body.patient_id, body.version, body.answers
    )
    return declaration_out(declaration)


@endpoint(router, Ops.GET_DECLARATION, response_model=DeclarationOut, errors=(404,))
async def get_declaration(booking_id: str, ctx: ContextDep, principal: Allowed) -> DeclarationOut:
    """The declaration given with a booking, with the questions as they were asked."""
    return declaration_out(await declarations.of_booking(ctx, principal, booking_id))
