"""Entry point: ``python -m vaccinera_notifications.main`` serves HTTP and Kafka in one process."""

from faststream_fastapi import FastStreamAPI

from vaccinera_kit.app import Service, ServiceSpec, serve
from vaccinera_notifications import api, handlers, store
from vaccinera_notifications.settings import Settings

SPEC = ServiceSpec(
    title="Vaccinera Notifications",
    description="SMS confirmations, reminders and their delivery status (NT-1..NT-4).",
    routers=api.routers,
    collections=store.COLLECTIONS,
    handlers=handlers.register,
    publishes=store.PUBLISHES,
)


def create_service(settings: Settings | None = None) -> Service:
    return Service(settings or Settings(), SPEC)


def create_app() -> FastStreamAPI:
    """For ``uvicorn --factory vaccinera_notifications.main:create_app``."""
    return create_service().asgi


if __name__ == "__main__":
    service = create_service()
    serve(service.asgi, service.settings)
