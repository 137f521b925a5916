"""What identity's routes need besides the kit's dependencies (``vaccinera_kit.deps``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from vaccinera_identity.population import PopulationRegister
from vaccinera_identity.settings import Settings
from vaccinera_kit.deps import settings_of


async def get_register(request: Request) -> PopulationRegister:
    """The population register adapter (``population_store.attach_register`` puts it there)."""
    register: PopulationRegister = request.app.state.population_register
    return register


SettingsDep = Annotated[Settings, Depends(settings_of(Settings))]
RegisterDep = Annotated[PopulationRegister, Depends(get_register)]
PatientId = Annotated[str, Path(description="The internal patient id.")]
