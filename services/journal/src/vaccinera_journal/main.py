"""Entry point: ``python -m vaccinera_journal.main`` serves HTTP and Kafka in one process."""

from vaccinera_journal import api, handlers, store, tables
from vaccinera_journal.settings import Settings
from vaccinera_kit.app import ServiceSpec, run, service_factory

SPEC = ServiceSpec.from_modules(
    "Vaccinera Journal",
    "Vaccine catalogue, orders, administrations and vaccination history (JR-1..JR-9).",
    api=api,
    tables=tables,
    store=store,
    handlers=handlers,
)

create_service = service_factory(SPEC, Settings)

if __name__ == "__main__":
    run(create_service)
