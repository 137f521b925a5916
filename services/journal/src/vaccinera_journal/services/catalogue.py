"""Use cases of the vaccine catalogue (JR-1): list it, add a vaccine, change one. A rename
is published, so the inventory's batches show the new name too."""

from __future__ import annotations

from vaccinera_contracts.events import VaccineRenamed
from vaccinera_contracts.roles import Principal
from vaccinera_journal import domain
from vaccinera_journal.domain import Vaccine, VaccineChange
from vaccinera_journal.services.context import Context, now
from vaccinera_journal.store import Catalogue


async def catalogue(ctx: Context) -> list[Vaccine]:
    async with ctx.read() as conn:
        return await Catalogue(conn).all()


async def add(ctx: Context, principal: Principal, vaccine: Vaccine) -> Vaccine:
    async with ctx.unit_of_work() as uow:
        await Catalogue(uow.conn).add(vaccine, principal.hsa_id or principal.subject, now())
    return vaccine


async def change(
    ctx: Context, principal: Principal, vaccine_id: str, what: VaccineChange
) -> tuple[Vaccine, VaccineRenamed | None]:
    moment = now()
    async with ctx.unit_of_work() as uow:
        repository = Catalogue(uow.conn)
        changed, renamed = domain.change(await repository.get(vaccine_id, lock=True), what, moment)
        await repository.save(changed, principal.hsa_id or principal.subject, moment)
        if renamed is not None:
            uow.publish(renamed)
    return changed, renamed
