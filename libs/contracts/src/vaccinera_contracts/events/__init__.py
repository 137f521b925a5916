"""Event models per publishing service, and the registry consumers dispatch on."""

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.events.access import AccessRecorded
from vaccinera_contracts.events.booking import (
    ArrivalRegistered,
    BookingCancelled,
    BookingCreated,
    BookingRebooked,
    DeclarationAnswer,
    HealthDeclarationSubmitted,
    ManageCodeIssued,
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
    PopulationCounted,
    PopulationRow,
    ProtectionChanged,
)
from vaccinera_contracts.events.inventory import BatchCheckedIn, StockChanged, StockLow
from vaccinera_contracts.events.journal import (
    AdministrationCorrected,
    DoseAdministered,
    DoseOrdered,
    HistoricalDoseRecorded,
    OrderVoided,
    VaccineRenamed,
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
        PopulationCounted,
        AccessRecorded,
        BookingCreated,
        BookingRebooked,
        BookingCancelled,
        ArrivalRegistered,
        HealthDeclarationSubmitted,
        ManageCodeIssued,
        DoseOrdered,
        OrderVoided,
        DoseAdministered,
        AdministrationCorrected,
        HistoricalDoseRecorded,
        VaccineRenamed,
        BatchCheckedIn,
        StockChanged,
        StockLow,
    )
}

__all__ = [
    "EVENT_MODELS",
    "AccessRecorded",
    "AdministrationCorrected",
    "ArrivalRegistered",
    "BatchCheckedIn",
    "Block",
    "BlocksChanged",
    "BookingCancelled",
    "BookingCreated",
    "BookingRebooked",
    "Consent",
    "ConsentsChanged",
    "ContactDetailsChanged",
    "DeclarationAnswer",
    "DoseAdministered",
    "DoseOrdered",
    "HealthDeclarationSubmitted",
    "HistoricalDoseRecorded",
    "IdentifierChanged",
    "ManageCodeIssued",
    "OrderVoided",
    "PatientRegistered",
    "PopulationCounted",
    "PopulationRow",
    "ProtectionChanged",
    "StockChanged",
    "StockLow",
    "VaccineRenamed",
    "Visit",
]
