"""Identity's event subscribers. It consumes nothing yet: access-log events arrive with ID-7."""

from vaccinera_kit.consumer import EventConsumer


def register(consumer: EventConsumer) -> None:
    """Identity subscribes to no topic yet."""
