"""What the registry export's routes depend on, besides the kit's."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from vaccinera_kit.deps import ServiceDep
from vaccinera_registry_export.services.reads import Context


async def get_context(service: ServiceDep) -> Context:
    return Context(service.unit_of_work, service.db, service.access_log)


ContextDep = Annotated[Context, Depends(get_context)]
