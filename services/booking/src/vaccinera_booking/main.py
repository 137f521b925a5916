"""Entry point: ``python -m vaccinera_booking.main`` serves HTTP and Kafka in one process."""

from vaccinera_booking import api, handlers, store, tables
from vaccinera_booking.settings import Settings
from vaccinera_kit.app import Service, ServiceSpec, run, service_factory
from vaccinera_kit.sealed import Sealer


def setup(service: Service) -> None:
    """The key every new manage code is sealed to (notifications' public key, issue 9)."""
    key_file = service.settings_as(Settings).manage_code_public_key_file
    if key_file is None:
        raise RuntimeError(
            "booking needs VACCINERA_MANAGE_CODE_PUBLIC_KEY_FILE: the public key manage codes "
            "are sealed to (the SMS sender holds its private half)"
        )
    service.app.state.manage_code_sealer = Sealer.from_file(key_file)


SPEC = ServiceSpec.from_modules(
    "Vaccinera Booking",
    "Time books, visit types, slots, bookings and health declarations (BK-1..BK-12).",
    api=api,
    tables=tables,
    store=store,
    handlers=handlers,
    setup=setup,
)

create_service = service_factory(SPEC, Settings)

if __name__ == "__main__":
    run(create_service)
