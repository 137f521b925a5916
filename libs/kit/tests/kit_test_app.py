"""A tiny service built with the kit, used only by the kit's own tests over the real servers."""

from __future__ import annotations

import uuid
from typing import ClassVar

from pymongo import IndexModel

from vaccinera_contracts.envelope import DomainEvent, TypedEnvelope
from vaccinera_kit.app import Service, ServiceSpec
from vaccinera_kit.consumer import EventConsumer
from vaccinera_kit.database import CollectionSpec, apply_once
from vaccinera_kit.settings import ServiceSettings

TOPIC = "vaccinera.kit-test.v1"
COUNTERS = "counters"
EFFECTS = "effects"


class CounterBumped(DomainEvent):
    """Test event: bump a counter by ``amount``; ``explode`` makes the handler fail."""

    event_type: ClassVar[str] = "kittest.CounterBumped"
    topic: ClassVar[str] = TOPIC

    counter_id: str
    amount: int
    explode: bool = False

    def aggregate_key(self) -> str:
        return self.counter_id


def spec() -> ServiceSpec:
    def handlers(consumer: EventConsumer) -> None:
        @consumer.on(CounterBumped)
        async def bump(event: TypedEnvelope[CounterBumped]) -> None:
            if event.data.explode:
                raise RuntimeError("handler bug")
            await apply_once(
                consumer.db[EFFECTS],
                {"_id": event.data.counter_id},
                str(event.event_id),
                {"$inc": {"total": event.data.amount}},
            )

    return ServiceSpec(
        title="kit test",
        description="kit test",
        collections=(CollectionSpec(COUNTERS, indexes=(IndexModel([("n", 1)]),), outbox=True),),
        handlers=handlers,
        publishes=(CounterBumped,),
    )


def settings(bootstrap: str, mongo_url: str, **overrides: object) -> ServiceSettings:
    name = f"kit-test-{uuid.uuid4().hex[:8]}"
    return ServiceSettings(
        service_name=name,
        kafka_bootstrap=bootstrap,
        mongo_url=mongo_url,
        otel_exporter="memory",
        **overrides,  # type: ignore[arg-type]
    )


def build(bootstrap: str, mongo_url: str, **overrides: object) -> Service:
    return Service(settings(bootstrap, mongo_url, **overrides), spec())
