"""Entry point: ``python -m vaccinera_registry_export.main`` serves HTTP and Kafka in one process."""

from vaccinera_kit.app import ServiceSpec, run, service_factory
from vaccinera_registry_export import api, handlers, store, tables
from vaccinera_registry_export.settings import Settings

SPEC = ServiceSpec.from_modules(
    "Vaccinera Registry export",
    "Reports to NVR and NPÖ, control report and statistics (RX-1..RX-5).",
    api=api,
    tables=tables,
    store=store,
    handlers=handlers,
)

create_service = service_factory(SPEC, Settings)

if __name__ == "__main__":
    run(create_service)
