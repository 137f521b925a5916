"""Kafka topic names: one per publishing service, versioned (DESIGN "Events")."""

from typing import Final

IDENTITY: Final = "vaccinera.identity.v1"
BOOKING: Final = "vaccinera.booking.v1"
JOURNAL: Final = "vaccinera.journal.v1"
INVENTORY: Final = "vaccinera.inventory.v1"
NOTIFICATIONS: Final = "vaccinera.notifications.v1"
REGISTRY_EXPORT: Final = "vaccinera.registry-export.v1"
ACCESS_LOG: Final = "vaccinera.access-log.v1"

SERVICES: Final = (
    "identity",
    "booking",
    "journal",
    "inventory",
    "notifications",
    "registry-export",
)

DOMAIN_TOPICS: Final = (
    IDENTITY,
    BOOKING,
    JOURNAL,
    INVENTORY,
    NOTIFICATIONS,
    REGISTRY_EXPORT,
    ACCESS_LOG,
)

PARTITIONS: Final = 3


def dead_letter_topic(service: str) -> str:
    """Where a service parks messages it cannot process, so its consumer can go on."""
    return f"vaccinera.{service}.dlq.v1"


def all_topics() -> list[str]:
    """Every topic the platform uses; the stack creates them on start (auto-create is off)."""
    return [*DOMAIN_TOPICS, *(dead_letter_topic(s) for s in SERVICES)]
