"""Routes of a unit's stock (IN-1, IN-2, IN-6): check in deliveries, see the stock with its
low-stock warnings, the batches that can be used now and the discrepancies, set low-stock
levels. Staff act at the unit of their active assignment (AC-5)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from vaccinera_contracts.access import Ops
from vaccinera_inventory.api.deps import ContextDep, UnitId, VaccineId, idempotent
from vaccinera_inventory.schemas import (
    BatchOut,
    DeliveryIn,
    DiscrepanciesOut,
    LowStockLevelIn,
    LowStockLevelOut,
    UnitStockOut,
    UsableBatchesOut,
    batch_answer,
    batch_json,
    discrepancies_out,
    level_out,
    unit_stock_out,
    usable_out,
)
from vaccinera_inventory.services import administrations, batches, levels
from vaccinera_inventory.services.context import today
from vaccinera_kit.deps import Allowed, endpoint

router = APIRouter(tags=["stock"])


@endpoint(router, Ops.CHECK_IN, status_code=201, response_model=BatchOut, errors=(409,))
async def check_in(
    unit_id: UnitId, body: DeliveryIn, request: Request, ctx: ContextDep, principal: Allowed
) -> BatchOut:
    """A delivery into the unit's stock ("inkvittering", IN-1): a new batch, or more doses of
    a batch number the unit already holds (same expiry). An expired delivery is refused
    (IN-6). A retry with the same Idempotency-Key answers as the first, counted once."""
    call = idempotent(request, principal, "check_in", [unit_id, body.model_dump(mode="json")])
    day = today()
    answer = await batches.check_in(
        ctx, principal, unit_id, body.to_delivery(), call, batch_json(day)
    )
    return batch_answer(answer, day)


@endpoint(router, Ops.STOCK, response_model=UnitStockOut)
async def unit_stock(unit_id: UnitId, ctx: ContextDep, principal: Allowed) -> UnitStockOut:
    """The unit's stock per vaccine: usable doses, doses in expired batches still to discard,
    the batches, and a warning where the usable doses are at the low-stock level or below
    (IN-6)."""
    stock = await batches.unit_stock(ctx, principal, unit_id)
    return unit_stock_out(unit_id, stock, today())


@endpoint(router, Ops.USABLE_BATCHES, response_model=UsableBatchesOut)
async def usable_batches(
    unit_id: UnitId,
    ctx: ContextDep,
    principal: Allowed,
    vaccine_id: Annotated[str | None, Query(pattern=r"^[\w.:-]{1,100}$")] = None,
) -> UsableBatchesOut:
    """The batches a nurse may pick for an administration (JR-4): expired and empty batches
    are not offered (IN-6); per vaccine, the first to expire first."""
    found = await batches.usable(ctx, principal, unit_id, vaccine_id)
    return usable_out(unit_id, found, today())


@endpoint(router, Ops.STOCK_DISCREPANCIES, response_model=DiscrepanciesOut)
async def discrepancies(
    unit_id: UnitId,
    ctx: ContextDep,
    principal: Allowed,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> DiscrepanciesOut:
    """Administrations the stock did not cover (IN-2): given from a batch with no doses left
    (not subtracted: the balance never goes below zero), from a batch unknown here, or from
    an expired batch. A correction of the batch settles them."""
    rows = await administrations.discrepancies(ctx, principal, unit_id, limit)
    return discrepancies_out(unit_id, rows)


@endpoint(router, Ops.SET_LOW_STOCK_LEVEL, response_model=LowStockLevelOut)
async def set_low_stock_level(
    unit_id: UnitId,
    vaccine_id: VaccineId,
    body: LowStockLevelIn,
    ctx: ContextDep,
    principal: Allowed,
) -> LowStockLevelOut:
    """Warn when the unit's usable doses of the vaccine are this many or fewer (IN-6): the
    staff view shows it, and StockLow is published once per crossing."""
    level = await levels.set_level(ctx, principal, unit_id, vaccine_id, body.level)
    return level_out(level)
