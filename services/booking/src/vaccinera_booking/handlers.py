"""Booking's event subscribers: they keep the patient projection booking decides on.

Each handler runs in the consumer's unit of work, which also records the event as processed,
so a redelivered event changes nothing. Events of one patient arrive in order (keyed by id).
"""

from __future__ import annotations

from vaccinera_booking.domain import Patient
from vaccinera_booking.store import Patients
from vaccinera_contracts.envelope import TypedEnvelope
from vaccinera_contracts.events import IdentifierChanged, PatientRegistered, ProtectionChanged
from vaccinera_kit.consumer import EventConsumer
from vaccinera_kit.unit_of_work import UnitOfWork


def register(consumer: EventConsumer) -> None:
    @consumer.on(PatientRegistered)
    async def patient_registered(event: TypedEnvelope[PatientRegistered], uow: UnitOfWork) -> None:
        data = event.data
        await Patients(uow.conn).record(
            Patient(data.patient_id, data.identifier.kind, data.identifier.value, data.protected)
        )

    @consumer.on(IdentifierChanged)
    async def identifier_changed(event: TypedEnvelope[IdentifierChanged], uow: UnitOfWork) -> None:
        # ID-4: the internal id stays, the identifier (and so who may self-book) follows.
        await Patients(uow.conn).change(
            event.data.patient_id,
            identifier_kind=event.data.new.kind.value,
            identifier_value=event.data.new.value,
        )

    @consumer.on(ProtectionChanged)
    async def protection_changed(event: TypedEnvelope[ProtectionChanged], uow: UnitOfWork) -> None:
        await Patients(uow.conn).change(event.data.patient_id, protected=event.data.protected)
