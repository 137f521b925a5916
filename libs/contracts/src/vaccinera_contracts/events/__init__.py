"""Event models per publishing service, and the registry consumers dispatch on."""

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.events.identity import PatientRegistered

EVENT_MODELS: dict[str, type[DomainEvent]] = {
    model.event_type: model for model in (PatientRegistered,)
}

__all__ = ["EVENT_MODELS", "PatientRegistered"]
