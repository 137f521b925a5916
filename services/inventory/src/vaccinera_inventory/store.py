"""The events this service publishes (none yet)."""

from vaccinera_contracts.envelope import DomainEvent

PUBLISHES: tuple[type[DomainEvent], ...] = ()
