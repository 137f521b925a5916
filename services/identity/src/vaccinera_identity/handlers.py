"""Identity's event subscribers: the access log of every service lands here (ID-7)."""

from vaccinera_contracts.envelope import TypedEnvelope
from vaccinera_contracts.events import AccessRecorded
from vaccinera_identity import services
from vaccinera_kit.consumer import EventConsumer
from vaccinera_kit.unit_of_work import UnitOfWork


def register(consumer: EventConsumer) -> None:
    @consumer.on(AccessRecorded)
    async def access_recorded(event: TypedEnvelope[AccessRecorded], uow: UnitOfWork) -> None:
        await services.record_access(uow, event.event_id, event.data)
