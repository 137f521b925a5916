"""What an administration does to the stock (IN-2), and the discrepancies it may leave.

The journal's ``DoseAdministered`` lowers its batch's balance by one, once per administration
id: the consumer already handles each event id once; the administration's row makes a second
event of the same administration (a replay, a republish) change nothing either. An empty
batch is not subtracted from: the administration is recorded as a discrepancy for the stock
administrator, and the balance stays at zero until a correction.
"""

from __future__ import annotations

from vaccinera_contracts.events import AdministrationCorrected, DoseAdministered
from vaccinera_contracts.roles import Principal
from vaccinera_inventory.domain import UNKNOWN_BATCH, Administration
from vaccinera_inventory.services import levels
from vaccinera_inventory.services.context import Context, now
from vaccinera_inventory.store import Administrations, Batches, DiscrepancyRow
from vaccinera_kit.auth import ensure_unit
from vaccinera_kit.unit_of_work import UnitOfWork


async def dose_administered(uow: UnitOfWork, event: DoseAdministered) -> None:
    """In the consumer's unit of work: lock the batch, let it decide, record the
    administration (unless recorded before), store the balance, assess the low-stock level."""
    administration = Administration(
        administration_id=event.administration_id,
        batch_id=event.batch_id,
        unit_id=event.unit_id,
        care_provider_id=event.care_provider_id,
        vaccine_id=event.vaccine_id,
        administered_at=event.administered_at,
    )
    batches, moment = Batches(uow), now()
    batch = await batches.get(event.batch_id, lock=True)
    outcome = UNKNOWN_BATCH if batch is None else batch.administer(administration, moment)
    if not await Administrations(uow.conn).record(administration, outcome):
        return  # this administration was handled before: its outcome stands
    if batch is not None and outcome.decremented:
        await batches.save(batch)
        await levels.assess(uow, batch.unit_id, batch.vaccine, moment, batch.batch_id)


async def administration_corrected(uow: UnitOfWork, event: AdministrationCorrected) -> None:
    """A dose corrected to another batch (JR-4): back in the batch it was first taken from
    (if it was taken), out of the batch it was given from; both batches locked in id order,
    as every change of stock locks them. A redelivery finds it moved and changes nothing."""
    if event.previous_batch_id == event.batch_id:
        return
    records = Administrations(uow.conn)
    taken = await records.decremented(event.administration_id, event.previous_batch_id)
    if taken is None:
        return  # moved before (a redelivery), or never received
    batches, moment = Batches(uow), now()
    locked = {
        batch_id: await batches.get(batch_id, lock=True)
        for batch_id in sorted({event.previous_batch_id, event.batch_id})
    }
    previous, current = locked[event.previous_batch_id], locked[event.batch_id]
    if previous is not None and taken:
        previous.return_dose(
            event.administration_id, f"Rättad: given ur batch {event.batch_number}", moment
        )
        await batches.save(previous)
    administration = Administration(
        administration_id=event.administration_id,
        batch_id=event.batch_id,
        unit_id=event.unit_id,
        care_provider_id=event.care_provider_id,
        vaccine_id=event.vaccine_id,
        administered_at=event.administered_at,
    )
    outcome = UNKNOWN_BATCH if current is None else current.administer(administration, moment)
    await records.moved(event.administration_id, event.batch_id, outcome)
    if current is not None and outcome.decremented:
        await batches.save(current)
    for batch in (previous, current):
        if batch is not None:
            await levels.assess(uow, batch.unit_id, batch.vaccine, moment, batch.batch_id)


async def discrepancies(
    ctx: Context, principal: Principal, unit_id: str, limit: int
) -> list[DiscrepancyRow]:
    """The unit's administrations the stock did not cover, newest first (IN-2)."""
    ensure_unit(principal, unit_id)
    async with ctx.read() as conn:
        return await Administrations(conn).discrepancies(unit_id, limit)
