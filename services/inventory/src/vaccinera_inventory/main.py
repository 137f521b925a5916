"""Entry point: ``python -m vaccinera_inventory.main`` serves HTTP and Kafka in one process."""

from vaccinera_inventory import api, handlers, store, tables
from vaccinera_inventory.settings import Settings
from vaccinera_kit.app import ServiceSpec, run, service_factory

SPEC = ServiceSpec.from_modules(
    "Vaccinera Inventory",
    "Batches and vaccine stock per unit, discards and quick lists (IN-1..IN-6).",
    api=api,
    tables=tables,
    store=store,
    handlers=handlers,
)

create_service = service_factory(SPEC, Settings)

if __name__ == "__main__":
    run(create_service)
