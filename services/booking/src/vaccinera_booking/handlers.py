"""Booking's event subscribers: they keep the patient projection booking decides on."""

from __future__ import annotations

from vaccinera_booking.store import PatientProjection
from vaccinera_contracts.envelope import TypedEnvelope
from vaccinera_contracts.events import IdentifierChanged, PatientRegistered, ProtectionChanged
from vaccinera_kit.consumer import EventConsumer


def register(consumer: EventConsumer) -> None:
    projection = PatientProjection(consumer.db)

    @consumer.on(PatientRegistered)
    async def patient_registered(event: TypedEnvelope[PatientRegistered]) -> None:
        await projection.record(
            event.data.patient_id,
            str(event.event_id),
            {
                "identifier": event.data.identifier.model_dump(mode="json"),
                "protected": event.data.protected,
            },
        )

    @consumer.on(IdentifierChanged)
    async def identifier_changed(event: TypedEnvelope[IdentifierChanged]) -> None:
        # ID-4: the internal id stays, the identifier (and so who may self-book) follows.
        await projection.record(
            event.data.patient_id,
            str(event.event_id),
            {"identifier": event.data.new.model_dump(mode="json")},
        )

    @consumer.on(ProtectionChanged)
    async def protection_changed(event: TypedEnvelope[ProtectionChanged]) -> None:
        await projection.record(
            event.data.patient_id, str(event.event_id), {"protected": event.data.protected}
        )
