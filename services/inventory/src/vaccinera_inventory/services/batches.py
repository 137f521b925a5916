"""Use cases of the unit's stock (IN-1, IN-3, IN-6): check in a delivery, discard doses,
correct a balance after a count; read the unit's stock, its usable batches and a batch."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from vaccinera_contracts.roles import Principal
from vaccinera_inventory import domain
from vaccinera_inventory.domain import Batch, Delivery, VaccineStock
from vaccinera_inventory.services import levels
from vaccinera_inventory.services.context import Context, actor, care_provider, now, today
from vaccinera_inventory.store import Administrations, Batches, Levels, Vaccines
from vaccinera_kit.auth import ensure_unit
from vaccinera_kit.errors import NotFound
from vaccinera_kit.idempotency import IdempotentCall
from vaccinera_kit.unit_of_work import UnitOfWork

# A use case answers with the batch; the route maps it. A replayed answer (Idempotency-Key)
# arrives as the JSON the first request answered with.
Answer = Batch | dict[str, Any]
ToJson = Callable[[Batch], dict[str, Any]]


async def check_in(
    ctx: Context,
    principal: Principal,
    unit_id: str,
    delivery: Delivery,
    call: IdempotentCall,
    out: ToJson,
) -> Answer:
    """A delivery into the unit's stock (IN-1): a new batch, or more doses of a batch number
    the unit holds. An expired delivery is refused (IN-6)."""
    ensure_unit(principal, unit_id)
    if (answer := await call.previous(ctx.db)) is not None:
        return dict(answer)
    moment, by = now(), actor(principal)
    async with ctx.unit_of_work() as uow:
        if (answer := await call.claim(uow)) is not None:
            return dict(answer)
        (vaccine,) = await Vaccines(uow.conn).known([delivery.vaccine])
        delivery = replace(delivery, vaccine=vaccine)
        repository = Batches(uow)
        batch = await repository.by_number(unit_id, vaccine.vaccine_id, delivery.batch_number)
        delivery_id = str(uuid.uuid4())
        if batch is None:
            batch = Batch.check_in(
                batch_id=str(uuid.uuid4()),
                delivery_id=delivery_id,
                unit_id=unit_id,
                care_provider_id=care_provider(principal),
                delivery=delivery,
                by=by,
                now=moment,
                today=today(),
            )
            await repository.add(batch)
        else:
            batch.deliver(delivery_id, delivery, by, moment, today())
            await repository.save(batch)
        await levels.assess(uow, unit_id, vaccine, moment, batch.batch_id)
        await call.remember(uow, out(batch), 201)
    return batch


async def _change(
    ctx: Context,
    principal: Principal,
    batch_id: str,
    call: IdempotentCall,
    out: ToJson,
    change: Callable[[Batch], None],
    after: Callable[[UnitOfWork, Batch], Any] | None = None,
) -> Answer:
    if (answer := await call.previous(ctx.db)) is not None:
        return dict(answer)
    async with ctx.unit_of_work() as uow:
        if (answer := await call.claim(uow)) is not None:
            return dict(answer)
        repository = Batches(uow)
        batch = await repository.get(batch_id, lock=True)
        if batch is None:
            raise NotFound(f"No batch {batch_id}.")
        ensure_unit(principal, batch.unit_id)
        change(batch)
        await repository.save(batch)
        if after is not None:
            await after(uow, batch)
        await levels.assess(uow, batch.unit_id, batch.vaccine, now(), batch.batch_id)
        await call.remember(uow, out(batch))
    return batch


async def discard(
    ctx: Context,
    principal: Principal,
    batch_id: str,
    doses: int,
    reason: str,
    call: IdempotentCall,
    out: ToJson,
) -> Answer:
    """Doses thrown away ("kassation"), with the reason and who (IN-3). Registered at the
    unit: the stock administrator acts at the batch's unit."""
    by = actor(principal)
    return await _change(
        ctx, principal, batch_id, call, out, lambda b: b.discard(doses, reason, by, now())
    )


async def correct(
    ctx: Context,
    principal: Principal,
    batch_id: str,
    counted: int,
    reason: str,
    call: IdempotentCall,
    out: ToJson,
) -> Answer:
    """The balance set to what was counted, with the reason and who (IN-3). It settles the
    batch's open discrepancies: the count is the truth from now on."""
    by, moment = actor(principal), now()

    async def settle(uow: UnitOfWork, batch: Batch) -> None:
        await Administrations(uow.conn).settle(batch.batch_id, by, moment)

    return await _change(
        ctx,
        principal,
        batch_id,
        call,
        out,
        lambda b: b.correct(counted, reason, by, moment),
        settle,
    )


@dataclass(frozen=True)
class BatchView:
    batch: Batch
    usable: bool
    movements: list[dict[str, Any]]


async def batch(ctx: Context, principal: Principal, batch_id: str) -> BatchView:
    """A batch of the caller's unit (AC-5) with its history, newest first."""
    async with ctx.read() as conn:
        repository = Batches(conn)
        found = await repository.get(batch_id)
        if found is None:
            raise NotFound(f"No batch {batch_id}.")
        ensure_unit(principal, found.unit_id)
        history = await repository.history(batch_id)
    return BatchView(found, found.usable(today()), history)


async def unit_stock(ctx: Context, principal: Principal, unit_id: str) -> list[VaccineStock]:
    """The unit's stock per vaccine with the low-stock warnings (IN-1, IN-6): staff see
    their own unit's (AC-5)."""
    ensure_unit(principal, unit_id)
    async with ctx.read() as conn:
        held = await Batches(conn).in_stock(unit_id)
        unit_levels = await Levels(conn).for_unit(unit_id)
    return domain.unit_stock(held, unit_levels, today())


async def usable(
    ctx: Context, principal: Principal, unit_id: str, vaccine_id: str | None
) -> list[Batch]:
    """The batches that may be picked for an administration (JR-4): expired and empty ones
    are not offered (IN-6); the first to expire first."""
    ensure_unit(principal, unit_id)
    async with ctx.read() as conn:
        held = await Batches(conn).in_stock(unit_id, vaccine_id)
    return domain.usable_batches(held, today())
