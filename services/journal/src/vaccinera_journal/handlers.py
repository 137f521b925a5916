"""The journal's event subscribers: each keeps what the journal decides and shows by, so no
read asks another service. Each handler runs in the consumer's unit of work, which also marks
the event processed: a redelivered event changes nothing. Events of one patient (or batch)
arrive in order: they are keyed by its id."""

from __future__ import annotations

from vaccinera_contracts.envelope import TypedEnvelope
from vaccinera_contracts.events import (
    BatchCheckedIn,
    BlocksChanged,
    ConsentsChanged,
    HealthDeclarationSubmitted,
    IdentifierChanged,
    PatientRegistered,
    StockChanged,
)
from vaccinera_journal.store import Batches, Declarations, Patients
from vaccinera_kit.consumer import EventConsumer
from vaccinera_kit.unit_of_work import UnitOfWork


def register(consumer: EventConsumer) -> None:
    @consumer.on(PatientRegistered)
    async def patient_registered(event: TypedEnvelope[PatientRegistered], uow: UnitOfWork) -> None:
        data = event.data
        await Patients(uow.conn).identified(
            data.patient_id, data.identifier.value, data.identifier.kind.value
        )

    @consumer.on(IdentifierChanged)
    async def identifier_changed(event: TypedEnvelope[IdentifierChanged], uow: UnitOfWork) -> None:
        # ID-4: the record stays the patient's; the journal shows the new identifier.
        data = event.data
        await Patients(uow.conn).identified(data.patient_id, data.new.value, data.new.kind.value)

    @consumer.on(BlocksChanged)
    async def blocks_changed(event: TypedEnvelope[BlocksChanged], uow: UnitOfWork) -> None:
        await Patients(uow.conn).blocks(event.data.patient_id, event.data.blocks)

    @consumer.on(ConsentsChanged)
    async def consents_changed(event: TypedEnvelope[ConsentsChanged], uow: UnitOfWork) -> None:
        await Patients(uow.conn).consents(event.data.patient_id, event.data.consents)

    @consumer.on(HealthDeclarationSubmitted)
    async def declaration_submitted(
        event: TypedEnvelope[HealthDeclarationSubmitted], uow: UnitOfWork
    ) -> None:
        await Declarations(uow.conn).submitted(event.data, event.occurred_at)

    @consumer.on(BatchCheckedIn)
    async def batch_checked_in(event: TypedEnvelope[BatchCheckedIn], uow: UnitOfWork) -> None:
        await Batches(uow.conn).checked_in(event.data)

    @consumer.on(StockChanged)
    async def stock_changed(event: TypedEnvelope[StockChanged], uow: UnitOfWork) -> None:
        await Batches(uow.conn).changed(event.data)
