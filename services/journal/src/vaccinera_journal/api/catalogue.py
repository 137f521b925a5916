"""Routes of the vaccine catalogue (JR-1): every staff member reads it; its keepers add and
change vaccines. A new name shows on past vaccinations, orders and batches."""

from __future__ import annotations

from fastapi import APIRouter

from vaccinera_contracts.access import Ops
from vaccinera_journal.api.deps import ContextDep, VaccineId
from vaccinera_journal.schemas import (
    CatalogueOut,
    VaccineChangeIn,
    VaccineIn,
    VaccineOut,
    vaccine_out,
)
from vaccinera_journal.services import catalogue
from vaccinera_kit.deps import Allowed, endpoint

router = APIRouter(tags=["catalogue"])


@endpoint(router, Ops.CATALOGUE, response_model=CatalogueOut)
async def list_vaccines(ctx: ContextDep, principal: Allowed) -> CatalogueOut:
    """The catalogue, by name."""
    return CatalogueOut(vaccines=[vaccine_out(v) for v in await catalogue.catalogue(ctx)])


@endpoint(router, Ops.ADD_VACCINE, status_code=201, response_model=VaccineOut, errors=(409,))
async def add_vaccine(body: VaccineIn, ctx: ContextDep, principal: Allowed) -> VaccineOut:
    """A vaccine new to the region's catalogue."""
    return vaccine_out(await catalogue.add(ctx, principal, body.to_vaccine()))


@endpoint(router, Ops.CHANGE_VACCINE, response_model=VaccineOut, errors=(404,))
async def change_vaccine(
    vaccine_id: VaccineId, body: VaccineChangeIn, ctx: ContextDep, principal: Allowed
) -> VaccineOut:
    """Rename a vaccine (e.g. "COVID-19 Vaccine AstraZeneca" to "Vaxzevria") or change its
    series; a rename reaches the inventory's batches as ``VaccineRenamed``."""
    changed, _ = await catalogue.change(ctx, principal, vaccine_id, body.to_change())
    return vaccine_out(changed)
