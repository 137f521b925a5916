"""Entry point: ``python -m vaccinera_identity.main`` serves HTTP and Kafka in one process."""

from vaccinera_identity import api, handlers, store
from vaccinera_identity.population import CachedRegister, SyntheticRegister
from vaccinera_identity.settings import Settings
from vaccinera_kit.app import Service, ServiceSpec, run
from vaccinera_kit.settings import ServiceSettings

SPEC = ServiceSpec.from_modules(
    "Vaccinera Identity",
    "Persons, identifiers, protected identity, blocks, consents and the access log (ID-1..ID-8).",
    api=api,
    store=store,
    handlers=handlers,
)


def create_service(settings: ServiceSettings | None = None) -> Service:
    settings = settings if isinstance(settings, Settings) else Settings()
    service = Service(settings, SPEC)
    # The national register (PU) is reached through this adapter; locally, the synthetic one.
    service.app.state.population_register = CachedRegister(
        SyntheticRegister(), ttl_seconds=settings.register_cache_seconds
    )
    return service


if __name__ == "__main__":
    run(create_service)
