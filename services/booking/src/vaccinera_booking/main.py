"""Entry point: ``python -m vaccinera_booking.main`` serves HTTP and Kafka in one process."""

from faststream_fastapi import FastStreamAPI

from vaccinera_booking import api, handlers, store
from vaccinera_booking.settings import Settings
from vaccinera_kit.app import Service, ServiceSpec, serve

SPEC = ServiceSpec(
    title="Vaccinera Booking",
    description="Time books, visit types, slots, bookings and health declarations (BK-1..BK-12).",
    routers=api.routers,
    collections=store.COLLECTIONS,
    handlers=handlers.register,
    publishes=store.PUBLISHES,
)


def create_service(settings: Settings | None = None) -> Service:
    return Service(settings or Settings(), SPEC)


def create_app() -> FastStreamAPI:
    """For ``uvicorn --factory vaccinera_booking.main:create_app``."""
    return create_service().asgi


if __name__ == "__main__":
    service = create_service()
    serve(service.asgi, service.settings)
