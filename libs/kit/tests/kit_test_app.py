"""A tiny service built with the kit, used only by the kit's own tests over the real servers."""

from __future__ import annotations

import uuid
from typing import ClassVar

from sqlalchemy import Column, Integer, Table, Text
from sqlalchemy.dialects.postgresql import insert

from vaccinera_contracts.envelope import DomainEvent, TypedEnvelope
from vaccinera_kit.app import Service, ServiceSpec
from vaccinera_kit.consumer import EventConsumer
from vaccinera_kit.database import service_metadata
from vaccinera_kit.settings import ServiceSettings
from vaccinera_kit.unit_of_work import UnitOfWork

TOPIC = "vaccinera.kit-test.v1"

metadata = service_metadata()
counters = Table(
    "counters",
    metadata,
    Column("counter_id", Text, primary_key=True),
    Column("n", Integer, nullable=False),
)
effects = Table(
    "effects",
    metadata,
    Column("counter_id", Text, primary_key=True),
    Column("total", Integer, nullable=False),
)


class CounterBumped(DomainEvent):
    """Test event: bump a counter by ``amount``; ``explode`` makes the handler fail."""

    event_type: ClassVar[str] = "kittest.CounterBumped"
    topic: ClassVar[str] = TOPIC

    counter_id: str
    amount: int
    explode: bool = False

    def aggregate_key(self) -> str:
        return self.counter_id


async def bump_counter(uow: UnitOfWork, counter_id: str, amount: int) -> None:
    """A state change and its event, one unit of work."""
    await uow.execute(
        insert(counters)
        .values(counter_id=counter_id, n=amount)
        .on_conflict_do_update(index_elements=["counter_id"], set_={"n": counters.c.n + amount})
    )
    uow.publish(CounterBumped(counter_id=counter_id, amount=amount))


async def apply_bump(event: TypedEnvelope[CounterBumped], uow: UnitOfWork) -> None:
    """The consumer's handler: adds the amount to the counter's effect, or fails on ``explode``."""
    if event.data.explode:
        raise RuntimeError("handler bug")
    # Deliberately not idempotent by itself: the consumer's dedup must make it so.
    await uow.execute(
        insert(effects)
        .values(counter_id=event.data.counter_id, total=event.data.amount)
        .on_conflict_do_update(
            index_elements=["counter_id"],
            set_={"total": effects.c.total + event.data.amount},
        )
    )


def spec() -> ServiceSpec:
    def handlers(consumer: EventConsumer) -> None:
        consumer.on(CounterBumped)(apply_bump)

    return ServiceSpec(
        title="kit test",
        description="kit test",
        metadata=metadata,
        handlers=handlers,
        publishes=(CounterBumped,),
    )


def settings(bootstrap: str, database_url: str, **overrides: object) -> ServiceSettings:
    overrides.setdefault("service_name", f"kit-test-{uuid.uuid4().hex[:8]}")
    return ServiceSettings(
        kafka_bootstrap=bootstrap,
        database_url=database_url,
        otel_exporter="memory",
        **overrides,  # type: ignore[arg-type]
    )


def build(bootstrap: str, database_url: str, **overrides: object) -> Service:
    return Service(settings(bootstrap, database_url, **overrides), spec())
