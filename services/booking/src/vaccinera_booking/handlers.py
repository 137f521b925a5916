"""Booking's event subscribers: they keep the patient projection booking decides on."""

from __future__ import annotations

from vaccinera_booking.store import PatientProjection
from vaccinera_contracts.envelope import TypedEnvelope
from vaccinera_contracts.events import PatientRegistered
from vaccinera_kit.consumer import EventConsumer


def register(consumer: EventConsumer) -> None:
    projection = PatientProjection(consumer.db)

    @consumer.on(PatientRegistered)
    async def patient_registered(event: TypedEnvelope[PatientRegistered]) -> None:
        await projection.record(
            event.data.patient_id,
            str(event.event_id),
            {
                "identifier_kind": event.data.identifier_kind.value,
                "protected": event.data.protected,
                "registered_event_at": event.occurred_at,
            },
        )
