"""The unit's quick-vaccination list (IN-4): read by the unit's clinicians (its first vaccine
is the order form's default), set by the stock administrator."""

from __future__ import annotations

from collections.abc import Sequence

from vaccinera_contracts.roles import Principal
from vaccinera_inventory.domain import QuickList, Vaccine
from vaccinera_inventory.services.context import Context, actor
from vaccinera_inventory.store import QuickLists, Vaccines
from vaccinera_kit.auth import ensure_unit


async def quick_list(ctx: Context, principal: Principal, unit_id: str) -> QuickList:
    ensure_unit(principal, unit_id)
    async with ctx.read() as conn:
        return await QuickLists(conn).get(unit_id)


async def set_quick_list(
    ctx: Context, principal: Principal, unit_id: str, vaccines: Sequence[Vaccine]
) -> QuickList:
    """The whole list in its new order. A vaccine the inventory has not met yet is added
    under the name given; a known one keeps its catalogue name (JR-1)."""
    ensure_unit(principal, unit_id)
    wanted = QuickList.of(unit_id, vaccines)
    async with ctx.unit_of_work() as uow:
        known = await Vaccines(uow.conn).known(wanted.vaccines)
        stored = QuickList(unit_id, tuple(known))
        await QuickLists(uow.conn).put(stored, actor(principal))
    return stored
