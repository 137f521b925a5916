"""Routes of orders and doses (JR-2..JR-5, JR-9): order ("Signera ordination"), void, give
("Signera administrering"), order and give in one step, and enter a dose given elsewhere.
Each is signed by the caller's HSA-id at their active assignment's unit."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from vaccinera_contracts.access import Ops
from vaccinera_journal.api.deps import ContextDep, Id, OrderId, PatientId, idempotent
from vaccinera_journal.schemas import (
    AdministerIn,
    AdministrationOut,
    CorrectionIn,
    HistoricalDoseIn,
    OrderAndAdministerIn,
    OrderIn,
    OrdersOut,
    VaccinationOut,
    VoidIn,
    administration_out,
    historical_out,
    orders_out,
)
from vaccinera_journal.services import records
from vaccinera_kit.deps import Allowed, endpoint

router = APIRouter(tags=["orders and doses"])

# Answers of a call that may be a retry: the first answer again, as JSON.
Answer = Any


def _json(model: Any) -> Any:
    return lambda result: model(result).model_dump(mode="json")


def _answer(result: Any, model: Any) -> Any:
    """The use case's result as the answer; a retry's is the first answer's JSON already."""
    return result if isinstance(result, dict) else model(result)


@endpoint(router, Ops.ORDER, status_code=201, response_model=OrdersOut, errors=(404, 409))
async def order(
    patient_id: PatientId, body: OrderIn, request: Request, ctx: ContextDep, principal: Allowed
) -> Answer:
    """Order one or more doses; dose 2 without a vaccine follows dose 1's. A new order for a
    voided one names it and keeps its dose number (JR-3)."""
    call = idempotent(request, principal, "order", [patient_id, body.model_dump(mode="json")])
    result = await records.order(
        ctx,
        principal,
        Ops.ORDER,
        patient_id,
        vaccine_id=body.vaccine_id,
        dose_numbers=body.dose_numbers,
        patient_group=body.patient_group,
        replaces_order_id=body.replaces_order_id,
        call=call,
        out=_json(orders_out),
    )
    return _answer(result, orders_out)


@endpoint(router, Ops.VOID_ORDER, response_model=OrdersOut, errors=(404, 409))
async def void_order(
    order_id: OrderId, body: VoidIn, ctx: ContextDep, principal: Allowed
) -> OrdersOut:
    """Void ("makulera") an order not yet given, with the reason; voiding twice is refused."""
    voided = await records.void(
        ctx, principal, Ops.VOID_ORDER, order_id, body.reason, out=_json(orders_out)
    )
    return orders_out(voided)


@endpoint(
    router,
    Ops.ADMINISTER,
    status_code=201,
    response_model=AdministrationOut,
    errors=(404, 409),
)
async def administer(
    order_id: OrderId,
    body: AdministerIn,
    request: Request,
    ctx: ContextDep,
    principal: Allowed,
) -> Answer:
    """Give the ordered dose from a batch of the unit's stock. Refused (409) with an expired
    or empty batch, or before the minimum interval since the previous dose, naming the
    first allowed day (``earliest_date``)."""
    call = idempotent(request, principal, "administer", [order_id, body.model_dump(mode="json")])
    result = await records.administer(
        ctx,
        principal,
        Ops.ADMINISTER,
        order_id,
        batch_id=body.batch_id,
        booking_id=body.booking_id,
        call=call,
        out=_json(administration_out),
    )
    return _answer(result, administration_out)


@endpoint(
    router,
    Ops.ORDER_AND_ADMINISTER,
    status_code=201,
    response_model=AdministrationOut,
    errors=(404, 409),
)
async def order_and_administer(
    patient_id: PatientId,
    body: OrderAndAdministerIn,
    request: Request,
    ctx: ContextDep,
    principal: Allowed,
) -> Answer:
    """Order and give in one signed step, as a nurse with prescribing rights."""
    call = idempotent(
        request, principal, "order_and_administer", [patient_id, body.model_dump(mode="json")]
    )
    result = await records.order_and_administer(
        ctx,
        principal,
        Ops.ORDER_AND_ADMINISTER,
        patient_id,
        vaccine_id=body.vaccine_id,
        dose_number=body.dose_number,
        patient_group=body.patient_group,
        batch_id=body.batch_id,
        booking_id=body.booking_id,
        call=call,
        out=_json(administration_out),
    )
    return _answer(result, administration_out)


@endpoint(router, Ops.CORRECT_ADMINISTRATION, response_model=AdministrationOut, errors=(404, 409))
async def correct_administration(
    administration_id: Id, body: CorrectionIn, ctx: ContextDep, principal: Allowed
) -> AdministrationOut:
    """Correct a dose signed with the wrong batch (the dose moves from one batch's stock to
    the other) or dose number, with the reason, at the unit that gave it. NVR and NPÖ get the
    dose again as a new version (RX-1)."""
    given = await records.correct(
        ctx,
        principal,
        Ops.CORRECT_ADMINISTRATION,
        administration_id,
        batch_id=body.batch_id,
        dose_number=body.dose_number,
        reason=body.reason,
        out=_json(administration_out),
    )
    return administration_out(given)


@endpoint(
    router,
    Ops.RECORD_HISTORICAL,
    status_code=201,
    response_model=VaccinationOut,
    errors=(404, 409),
)
async def record_historical(
    patient_id: PatientId,
    body: HistoricalDoseIn,
    request: Request,
    ctx: ContextDep,
    principal: Allowed,
) -> Answer:
    """A dose given abroad or elsewhere, with a comment and no batch; never reported to NVR."""
    call = idempotent(request, principal, "historical", [patient_id, body.model_dump(mode="json")])
    result = await records.record_history(
        ctx,
        principal,
        Ops.RECORD_HISTORICAL,
        patient_id,
        vaccine_id=body.vaccine_id,
        dose_number=body.dose_number,
        given_on=body.given_on,
        country=body.country,
        comment=body.comment,
        call=call,
        out=_json(historical_out),
    )
    return _answer(result, historical_out)
