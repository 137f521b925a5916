"""Entry point: ``python -m vaccinera_inventory.main`` serves HTTP and Kafka in one process."""

from faststream_fastapi import FastStreamAPI

from vaccinera_inventory import api, handlers, store
from vaccinera_inventory.settings import Settings
from vaccinera_kit.app import Service, ServiceSpec, serve

SPEC = ServiceSpec(
    title="Vaccinera Inventory",
    description="Batches and vaccine stock per unit, discards and quick lists (IN-1..IN-6).",
    routers=api.routers,
    collections=store.COLLECTIONS,
    handlers=handlers.register,
    publishes=store.PUBLISHES,
)


def create_service(settings: Settings | None = None) -> Service:
    return Service(settings or Settings(), SPEC)


def create_app() -> FastStreamAPI:
    """For ``uvicorn --factory vaccinera_inventory.main:create_app``."""
    return create_service().asgi


if __name__ == "__main__":
    service = create_service()
    serve(service.asgi, service.settings)
