"""Event subscribers of this service (none yet)."""

from vaccinera_kit.consumer import EventConsumer


def register(consumer: EventConsumer) -> None:
    """Subscribes to no topic yet."""
