"""Entry point: ``python -m vaccinera_identity.main`` serves HTTP and Kafka in one process."""

from vaccinera_identity import api, handlers, population_store, store, tables
from vaccinera_identity.settings import Settings
from vaccinera_kit.app import ServiceSpec, run, service_factory

SPEC = ServiceSpec.from_modules(
    "Vaccinera Identity",
    "Persons, identifiers, protected identity, blocks, consents and the access log (ID-1..ID-8).",
    api=api,
    tables=tables,
    store=store,
    handlers=handlers,
    setup=population_store.attach_register,
    after_migrate=population_store.load_at_first_start,
)

create_service = service_factory(SPEC, Settings)

if __name__ == "__main__":
    run(create_service)
