"""Entry point: ``python -m vaccinera_identity.main`` serves HTTP and Kafka in one process."""

from vaccinera_identity import api, handlers, store, tables
from vaccinera_identity.population import CachedRegister, SyntheticRegister
from vaccinera_identity.population_store import DatabaseRegister, load_population
from vaccinera_identity.settings import Settings
from vaccinera_kit.app import Service, ServiceSpec, run
from vaccinera_kit.settings import ServiceSettings

SPEC = ServiceSpec.from_modules(
    "Vaccinera Identity",
    "Persons, identifiers, protected identity, blocks, consents and the access log (ID-1..ID-8).",
    api=api,
    tables=tables,
    store=store,
    handlers=handlers,
)


class IdentityService(Service):
    async def migrate(self) -> None:
        """The schema, then the synthetic population register's rows (first start only):
        the service is not ready before lookups can be answered."""
        await super().migrate()
        await load_population(self.db, SyntheticRegister())


def create_service(settings: ServiceSettings | None = None) -> Service:
    settings = settings if isinstance(settings, Settings) else Settings()
    service = IdentityService(settings, SPEC)
    # The national register (PU) is reached through this adapter; locally, the synthetic one
    # in identity's own database.
    service.app.state.population_register = CachedRegister(
        DatabaseRegister(service.db), ttl_seconds=settings.register_cache_seconds
    )
    return service


if __name__ == "__main__":
    run(create_service)
