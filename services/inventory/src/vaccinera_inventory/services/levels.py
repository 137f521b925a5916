"""Low-stock levels (IN-6): setting a unit's level for a vaccine, and assessing it after every
change of that stock, so ``StockLow`` is published once per crossing."""

from __future__ import annotations

from datetime import datetime

from vaccinera_contracts.roles import Principal
from vaccinera_inventory import domain
from vaccinera_inventory.domain import LowStockLevel, Vaccine
from vaccinera_inventory.services.context import Context, actor, care_provider, now, today
from vaccinera_inventory.store import Batches, Levels, Vaccines
from vaccinera_kit.auth import ensure_unit
from vaccinera_kit.unit_of_work import UnitOfWork


async def assess(
    uow: UnitOfWork, unit_id: str, vaccine: Vaccine, at: datetime, batch_id: str | None = None
) -> None:
    """After a change of the unit's stock of ``vaccine`` (in the change's unit of work, after
    its batch is locked): StockLow if the usable doses have just crossed to the level."""
    levels = Levels(uow.conn)
    level = await levels.lock(unit_id, vaccine.vaccine_id)
    if level is None:
        return
    usable = await Batches(uow.conn).usable_doses(unit_id, vaccine.vaccine_id, domain.local_day(at))
    await _assessed(uow, levels, level, usable, vaccine, at, batch_id)


async def _assessed(
    uow: UnitOfWork,
    levels: Levels,
    level: LowStockLevel,
    usable: int,
    vaccine: Vaccine,
    at: datetime,
    batch_id: str | None,
) -> None:
    was_low = level.low
    event = level.assess(usable, vaccine, at, batch_id)
    if level.low != was_low:
        await levels.mark(level)
    if event is not None:
        uow.publish(event)


async def set_level(
    ctx: Context, principal: Principal, unit_id: str, vaccine_id: str, level: int
) -> LowStockLevel:
    """The unit's low-stock level of a vaccine, assessed at once: a level at or above the
    stock warns now."""
    ensure_unit(principal, unit_id)
    wanted = LowStockLevel(unit_id, care_provider(principal), vaccine_id, level)
    moment = now()
    async with ctx.unit_of_work() as uow:
        vaccine = await Vaccines(uow.conn).get(vaccine_id)
        if vaccine is None:
            raise domain.invalid(
                "vaccine_id",
                "unknown",
                "No such vaccine here yet: check in a delivery of it or put it on the quick "
                "list first.",
            )
        levels = Levels(uow.conn)
        stored = await levels.put(wanted, actor(principal))
        usable = await Batches(uow.conn).usable_doses(unit_id, vaccine_id, today())
        await _assessed(uow, levels, stored, usable, vaccine, moment, None)
    return stored


async def reassess_all(ctx: Context) -> int:
    """Every level assessed again, one unit of work each: stock that reached its level by
    expiring warns too. Returns how many StockLow were published."""
    async with ctx.read() as conn:
        keys = await Levels(conn).all_keys()
    published = 0
    for unit_id, vaccine_id in keys:
        async with ctx.unit_of_work() as uow:
            vaccine = await Vaccines(uow.conn).get(vaccine_id)
            if vaccine is None:
                continue
            await assess(uow, unit_id, vaccine, now())
            published += len(uow.events)
    return published
