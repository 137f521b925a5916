"""Booking's event subscribers: they keep the projections booking decides on, identity's
patients and the journal's doses.

Each handler runs in the consumer's unit of work, which also records the event as processed,
so a redelivered event changes nothing. Events of one patient arrive in order (keyed by id).
"""

from __future__ import annotations

from vaccinera_booking.domain import Patient
from vaccinera_booking.store import NextDoses, Patients
from vaccinera_contracts.envelope import TypedEnvelope
from vaccinera_contracts.events import (
    DoseAdministered,
    HistoricalDoseRecorded,
    IdentifierChanged,
    PatientRegistered,
    ProtectionChanged,
)
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

    @consumer.on(DoseAdministered)
    async def dose_administered(event: TypedEnvelope[DoseAdministered], uow: UnitOfWork) -> None:
        # BK-10: the next dose of the series is booked no earlier than this day.
        data = event.data
        await NextDoses(uow.conn).record(data.patient_id, data.dose_number, data.next_dose_from)

    @consumer.on(HistoricalDoseRecorded)
    async def historical_dose_recorded(
        event: TypedEnvelope[HistoricalDoseRecorded], uow: UnitOfWork
    ) -> None:
        # A dose given elsewhere counts for the interval like one given here (BK-10, JR-9).
        data = event.data
        await NextDoses(uow.conn).record(data.patient_id, data.dose_number, data.next_dose_from)
