"""Entry point: ``python -m vaccinera_notifications.main`` serves HTTP and Kafka in one process."""

from vaccinera_kit.app import ServiceSpec, run, service_factory
from vaccinera_notifications import api, handlers, store, tables
from vaccinera_notifications.settings import Settings

SPEC = ServiceSpec.from_modules(
    "Vaccinera Notifications",
    "SMS confirmations, reminders and their delivery status (NT-1..NT-4).",
    api=api,
    tables=tables,
    store=store,
    handlers=handlers,
)

create_service = service_factory(SPEC, Settings)

if __name__ == "__main__":
    run(create_service)
