"""Entry point: ``python -m vaccinera_notifications.main`` serves HTTP and Kafka in one process."""

from vaccinera_kit.app import Service, ServiceSpec, run
from vaccinera_kit.settings import ServiceSettings
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


def create_service(settings: ServiceSettings | None = None) -> Service:
    settings = settings if isinstance(settings, Settings) else Settings()
    service = Service(settings, SPEC)
    # Handlers and the sender need this service's settings; the kit gives them the consumer.
    handlers.bind(service.consumer, settings)
    return service


if __name__ == "__main__":
    run(create_service)
