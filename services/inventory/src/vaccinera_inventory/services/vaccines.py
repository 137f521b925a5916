"""The journal's catalogue renames a vaccine (JR-1): every batch shows the new name."""

from __future__ import annotations

from vaccinera_contracts.events import VaccineRenamed
from vaccinera_inventory.store import Vaccines
from vaccinera_kit.unit_of_work import UnitOfWork


async def vaccine_renamed(uow: UnitOfWork, event: VaccineRenamed) -> None:
    await Vaccines(uow.conn).rename(event.vaccine_id, event.name, event.renamed_at)
