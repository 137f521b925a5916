"""Entry point: ``python -m vaccinera_registry_export.main`` serves HTTP and Kafka in one process."""

from faststream_fastapi import FastStreamAPI

from vaccinera_kit.app import Service, ServiceSpec, serve
from vaccinera_registry_export import api, handlers, store
from vaccinera_registry_export.settings import Settings

SPEC = ServiceSpec(
    title="Vaccinera Registry export",
    description="Reports to NVR and NPÖ, control report and statistics (RX-1..RX-5).",
    routers=api.routers,
    collections=store.COLLECTIONS,
    handlers=handlers.register,
    publishes=store.PUBLISHES,
)


def create_service(settings: Settings | None = None) -> Service:
    return Service(settings or Settings(), SPEC)


def create_app() -> FastStreamAPI:
    """For ``uvicorn --factory vaccinera_registry_export.main:create_app``."""
    return create_service().asgi


if __name__ == "__main__":
    service = create_service()
    serve(service.asgi, service.settings)
