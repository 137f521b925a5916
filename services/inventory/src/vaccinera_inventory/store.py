"""Collections this service owns and the events it publishes (none yet)."""

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_kit.database import CollectionSpec

COLLECTIONS: tuple[CollectionSpec, ...] = ()
PUBLISHES: tuple[type[DomainEvent], ...] = ()
