"""Routes of the unit's quick-vaccination list ("snabbvaccinering", IN-4)."""

from __future__ import annotations

from fastapi import APIRouter

from vaccinera_contracts.access import Ops
from vaccinera_inventory.api.deps import ContextDep, UnitId
from vaccinera_inventory.schemas import QuickListIn, QuickListOut, quick_list_out
from vaccinera_inventory.services import quick_lists
from vaccinera_kit.deps import Allowed, endpoint

router = APIRouter(tags=["quick list"])


@endpoint(router, Ops.QUICK_LIST, response_model=QuickListOut)
async def get_quick_list(unit_id: UnitId, ctx: ContextDep, principal: Allowed) -> QuickListOut:
    """The unit's vaccines in its order; the first is the default in the order form."""
    return quick_list_out(await quick_lists.quick_list(ctx, principal, unit_id))


@endpoint(router, Ops.SET_QUICK_LIST, response_model=QuickListOut)
async def set_quick_list(
    unit_id: UnitId, body: QuickListIn, ctx: ContextDep, principal: Allowed
) -> QuickListOut:
    """The whole list in its new order (put the vaccine given most on top)."""
    stored = await quick_lists.set_quick_list(ctx, principal, unit_id, body.to_vaccines())
    return quick_list_out(stored)
