"""Entry point: ``python -m vaccinera_identity.main`` serves HTTP and Kafka in one process."""

from faststream_fastapi import FastStreamAPI

from vaccinera_identity import api, handlers, store
from vaccinera_identity.settings import Settings
from vaccinera_kit.app import Service, ServiceSpec, serve

SPEC = ServiceSpec(
    title="Vaccinera Identity",
    description="Persons, identifiers, protected identity, blocks, consents and the access log (ID-1..ID-8).",
    routers=api.routers,
    collections=store.COLLECTIONS,
    handlers=handlers.register,
    publishes=store.PUBLISHES,
)


def create_service(settings: Settings | None = None) -> Service:
    return Service(settings or Settings(), SPEC)


def create_app() -> FastStreamAPI:
    """For ``uvicorn --factory vaccinera_identity.main:create_app``."""
    return create_service().asgi


if __name__ == "__main__":
    service = create_service()
    serve(service.asgi, service.settings)
