"""Entry point: ``python -m vaccinera_booking.main`` serves HTTP and Kafka in one process."""

from vaccinera_booking import api, handlers, store, tables
from vaccinera_booking.settings import Settings
from vaccinera_kit.app import ServiceSpec, run, service_factory

SPEC = ServiceSpec.from_modules(
    "Vaccinera Booking",
    "Time books, visit types, slots, bookings and health declarations (BK-1..BK-12).",
    api=api,
    tables=tables,
    store=store,
    handlers=handlers,
)

create_service = service_factory(SPEC, Settings)

if __name__ == "__main__":
    run(create_service)
