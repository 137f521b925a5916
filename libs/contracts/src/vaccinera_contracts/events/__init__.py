"""Event models per publishing service, and the registry consumers dispatch on."""

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.events.access import AccessRecorded
from vaccinera_contracts.events.booking import (
    ArrivalRegistered,
    BookingCancelled,
    BookingCreated,
    BookingRebooked,
    HealthDeclarationSubmitted,
    Visit,
)
from vaccinera_contracts.events.identity import (
    Block,
    BlocksChanged,
    Consent,
    ConsentsChanged,
    ContactDetailsChanged,
    IdentifierChanged,
    PatientRegistered,
    ProtectionChanged,
)

EVENT_MODELS: dict[str, type[DomainEvent]] = {
    model.event_type: model
    for model in (
        PatientRegistered,
        IdentifierChanged,
        ProtectionChanged,
        ContactDetailsChanged,
        BlocksChanged,
        ConsentsChanged,
        AccessRecorded,
        BookingCreated,
        BookingRebooked,
        BookingCancelled,
        ArrivalRegistered,
        HealthDeclarationSubmitted,
    )
}

__all__ = [
    "EVENT_MODELS",
    "AccessRecorded",
    "ArrivalRegistered",
    "Block",
    "BlocksChanged",
    "BookingCancelled",
    "BookingCreated",
    "BookingRebooked",
    "Consent",
    "ConsentsChanged",
    "ContactDetailsChanged",
    "HealthDeclarationSubmitted",
    "IdentifierChanged",
    "PatientRegistered",
    "ProtectionChanged",
    "Visit",
]
