"""Identity's event subscribers: the access log of every service lands here (ID-7)."""

from vaccinera_contracts.envelope import TypedEnvelope
from vaccinera_contracts.events import AccessRecorded
from vaccinera_identity.store import AccessLogStore
from vaccinera_kit.consumer import EventConsumer


def register(consumer: EventConsumer) -> None:
    log = AccessLogStore(consumer.db)

    @consumer.on(AccessRecorded)
    async def access_recorded(event: TypedEnvelope[AccessRecorded]) -> None:
        await log.append(str(event.event_id), event.data)
