"""The consumer handles a Kafka batch in one transaction (issue 7), and what a service relies on
still holds: one effect per event, a poison message parked without losing its neighbours,
nothing half done when the database fails, one aggregate's events in order. Over the real
Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert

import kit_test_app as app
from vaccinera_contracts.envelope import TypedEnvelope, new_envelope
from vaccinera_contracts.topics import dead_letter_topic
from vaccinera_devstack.infra import Infrastructure
from vaccinera_devstack.kafka import ensure_topics
from vaccinera_devstack.testing import eventually, read_topic
from vaccinera_kit.app import Service
from vaccinera_kit.consumer import Delivery, EventConsumer, InfrastructureError
from vaccinera_kit.database import service_metadata
from vaccinera_kit.unit_of_work import UnitOfWork

pytestmark = pytest.mark.infra

kit_tables = service_metadata().tables
outbox = kit_tables["outbox"]
processed_events = kit_tables["processed_events"]

Handler = Callable[[TypedEnvelope[app.CounterBumped], UnitOfWork], Awaitable[None]]
Build = Callable[..., Awaitable[Service]]


@pytest.fixture
async def services(infra: Infrastructure) -> AsyncIterator[Build]:
    """Builds the kit's test service with the given handler of CounterBumped; every replica
    built in one test shares its database and consumer group."""
    database_url = infra.database_url(f"kit-batch-{uuid.uuid4().hex[:8]}")
    name = f"kit-batch-{uuid.uuid4().hex[:8]}"
    built: list[Service] = []

    async def build(handler: Handler = app.apply_bump) -> Service:
        def handlers(consumer: EventConsumer) -> None:
            consumer.on(app.CounterBumped)(handler)

        svc = Service(
            app.settings(
                infra.kafka_bootstrap, database_url, service_name=name, consumer_max_attempts=2
            ),
            dataclasses.replace(app.spec(), handlers=handlers),
        )
        built.append(svc)
        await ensure_topics(infra.kafka_bootstrap, [app.TOPIC, dead_letter_topic(name)])
        await svc.migrate()
        return svc

    yield build
    for svc in built:
        await svc.relay.stop()
        await svc.broker.stop()
        await svc.db.dispose()


def bump(counter_id: str, amount: int = 1, explode: bool = False) -> tuple[str, bytes]:
    env = new_envelope(
        app.CounterBumped(counter_id=counter_id, amount=amount, explode=explode), producer="test"
    )
    return str(env.event_id), env.model_dump_json().encode()


def batch_of(*bodies: bytes, partition: int = 0) -> list[Delivery]:
    """Records of one partition, in offset order, as one poll hands them over."""
    return [
        Delivery(body, {"event_type": app.CounterBumped.event_type}, partition, offset)
        for offset, body in enumerate(bodies)
    ]


async def total(svc: Service, counter_id: str) -> int | None:
    async with svc.db.connect() as conn:
        return await conn.scalar(
            select(app.effects.c.total).where(app.effects.c.counter_id == counter_id)
        )


async def processed(svc: Service) -> set[str]:
    async with svc.db.connect() as conn:
        rows = await conn.scalars(
            select(processed_events.c.event_id).where(
                processed_events.c.consumer == svc.settings.service_name
            )
        )
        return {str(event_id) for event_id in rows}


async def outbox_events(svc: Service) -> list[dict[str, Any]]:
    async with svc.db.connect() as conn:
        values = await conn.scalars(select(outbox.c.value).order_by(outbox.c.id))
        return [json.loads(value) for value in values]


async def pending(svc: Service) -> int:
    async with svc.db.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(outbox)) or 0)


async def lose_the_connection(svc: Service, uow: UnitOfWork) -> None:
    """The database goes away under the transaction: its server process is terminated."""
    pid = await uow.conn.scalar(text("SELECT pg_backend_pid()"))
    async with svc.db.connect() as admin:
        assert await admin.scalar(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})


async def test_a_batch_with_one_poison_event_delivers_the_others_exactly_once_and_dead_letters_the_poison(
    infra: Infrastructure, services: Build
) -> None:
    svc = await services()
    await svc.broker.connect()  # to publish on the dead-letter topic; no subscriber runs
    prefix = f"poison-{uuid.uuid4().hex[:6]}"
    a_id, a = bump(f"{prefix}-a", 1)
    _, failing = bump(f"{prefix}-failing", explode=True)
    b_id, b = bump(f"{prefix}-b", 2)
    again_id, again = bump(f"{prefix}-a", 4)  # the same counter, after the poison

    outcomes = await svc.consumer.process_batch(
        batch_of(a, failing, b, b"\x00not json", again), app.TOPIC
    )

    assert outcomes == ["handled", "dead_lettered", "handled", "dead_lettered", "handled"]
    assert await total(svc, f"{prefix}-a") == 5
    assert await total(svc, f"{prefix}-b") == 2
    assert await total(svc, f"{prefix}-failing") is None
    # Only the delivered ones are marked: the failing event can be replayed from the DLQ.
    assert await processed(svc) == {a_id, b_id, again_id}
    parked = await read_topic(
        infra.kafka_bootstrap,
        dead_letter_topic(svc.settings.service_name),
        until=lambda records: len(records) >= 2,
        timeout=15,
    )
    assert sorted((r.headers["dlq_source_offset"], r.value) for r in parked) == [
        ("1", failing),
        ("3", b"\x00not json"),
    ]
    reasons = sorted(r.headers["dlq_reason"] for r in parked)
    assert reasons[0].startswith("handler failed 2 times: RuntimeError")
    assert reasons[1].startswith("not JSON")


async def test_a_redelivered_batch_has_no_effect_the_second_time(services: Build) -> None:
    svc = await services()
    prefix = f"again-{uuid.uuid4().hex[:6]}"
    _, x = bump(f"{prefix}-x", 3)
    _, y = bump(f"{prefix}-y", 5)
    batch = batch_of(x, y, x)  # the relay may publish an event twice: in one batch, too

    assert await svc.consumer.process_batch(batch, app.TOPIC) == ["handled", "handled", "duplicate"]
    assert await svc.consumer.process_batch(batch, app.TOPIC) == ["duplicate"] * 3

    assert await total(svc, f"{prefix}-x") == 3
    assert await total(svc, f"{prefix}-y") == 5


async def test_events_a_batchs_handlers_publish_reach_the_outbox_once_each_with_their_own_cause(
    services: Build,
) -> None:
    async def echo_then_bump(event: TypedEnvelope[app.CounterBumped], uow: UnitOfWork) -> None:
        # Staged first: a handler that then fails must take its event back with it.
        uow.publish(app.CounterBumped(counter_id=f"{event.data.counter_id}-echo", amount=1))
        await app.apply_bump(event, uow)

    svc = await services(echo_then_bump)
    await svc.broker.connect()
    prefix = f"echo-{uuid.uuid4().hex[:6]}"
    a_id, a = bump(f"{prefix}-a")
    _, failing = bump(f"{prefix}-failing", explode=True)
    b_id, b = bump(f"{prefix}-b")
    batch = batch_of(a, failing, b)

    assert await svc.consumer.process_batch(batch, app.TOPIC) == [
        "handled",
        "dead_lettered",
        "handled",
    ]
    assert await svc.consumer.process_batch(batch, app.TOPIC) == [
        "duplicate",
        "dead_lettered",
        "duplicate",
    ]

    echoes = await outbox_events(svc)
    caused = {e["data"]["counter_id"]: (e["causation_id"], e["correlation_id"]) for e in echoes}
    assert len(echoes) == 2
    # Each echo names the event that caused it and carries that event's correlation (a test
    # envelope's correlation id is its own event id).
    assert caused == {f"{prefix}-a-echo": (a_id, a_id), f"{prefix}-b-echo": (b_id, b_id)}


async def test_a_database_failure_mid_batch_commits_nothing_and_the_batch_is_handled_on_redelivery(
    infra: Infrastructure, services: Build
) -> None:
    prefix = f"down-{uuid.uuid4().hex[:6]}"
    armed = True

    async def database_fails_at_the_fourth(
        event: TypedEnvelope[app.CounterBumped], uow: UnitOfWork
    ) -> None:
        nonlocal armed
        if event.data.counter_id == f"{prefix}-3" and armed:
            armed = False
            await lose_the_connection(svc, uow)
        uow.publish(app.CounterBumped(counter_id=f"{event.data.counter_id}-echo", amount=1))
        await app.apply_bump(event, uow)

    svc = await services(database_fails_at_the_fourth)
    await svc.broker.connect()
    events = [bump(f"{prefix}-{i}", amount=i + 1) for i in range(6)]
    bodies = [body for _, body in events]
    batch = batch_of(*bodies[:2], b"\x00not json", *bodies[2:])

    with pytest.raises(InfrastructureError):
        await svc.consumer.process_batch(batch, app.TOPIC)

    assert not armed
    # Nothing of the batch is committed: no effect, no processed mark, no outbox row ...
    assert [await total(svc, f"{prefix}-{i}") for i in range(6)] == [None] * 6
    assert await processed(svc) == set()
    assert await pending(svc) == 0

    # ... and the batch delivered again (the offsets were not committed) is handled in full.
    outcomes = await svc.consumer.process_batch(batch, app.TOPIC)

    assert outcomes == ["handled", "handled", "dead_lettered", *["handled"] * 4]
    assert [await total(svc, f"{prefix}-{i}") for i in range(6)] == [1, 2, 3, 4, 5, 6]
    assert await processed(svc) == {event_id for event_id, _ in events}
    assert await pending(svc) == 6
    # The poison was parked once: the failed attempt parked nothing.
    parked = await read_topic(
        infra.kafka_bootstrap, dead_letter_topic(svc.settings.service_name), timeout=3
    )
    assert [r.value for r in parked] == [b"\x00not json"]


async def test_two_replicas_handling_overlapping_batches_at_once_apply_each_event_once(
    services: Build,
) -> None:
    one, other = await services(), await services()
    prefix = f"race-{uuid.uuid4().hex[:6]}"
    events = [bump(f"{prefix}-{i}", amount=i + 1) for i in range(20)]
    bodies = [body for _, body in events]

    outcomes = await asyncio.gather(
        one.consumer.process_batch(batch_of(*bodies), app.TOPIC),
        # The other replica got them in another order (another batch, after a rebalance).
        other.consumer.process_batch(batch_of(*reversed(bodies)), app.TOPIC),
    )

    per_event = zip(outcomes[0], reversed(outcomes[1]), strict=True)
    assert [sorted(pair) for pair in per_event] == [["duplicate", "handled"]] * 20
    assert [await total(one, f"{prefix}-{i}") for i in range(20)] == list(range(1, 21))


def fold(amounts: list[int]) -> int:
    """An order-sensitive checksum: the same amounts in another order give another value."""
    value = 0
    for amount in amounts:
        value = (value * 7 + amount) % 1_000_003
    return value


async def test_through_kafka_one_keys_events_apply_once_in_order_even_when_the_database_fails_mid_batch(
    infra: Infrastructure, services: Build
) -> None:
    prefix = f"order-{uuid.uuid4().hex[:6]}"
    keys = [f"{prefix}-{k}" for k in range(6)]  # spread over the topic's partitions
    per_key = 40
    armed = True

    async def fold_in(event: TypedEnvelope[app.CounterBumped], uow: UnitOfWork) -> None:
        nonlocal armed
        data = event.data
        if data.counter_id == keys[2] and data.amount == per_key // 2 and armed:
            armed = False
            await lose_the_connection(svc, uow)
        # Not idempotent and not commutative: a repeat or a swap changes the result.
        await uow.execute(
            insert(app.effects)
            .values(counter_id=data.counter_id, total=data.amount)
            .on_conflict_do_update(
                index_elements=["counter_id"],
                set_={"total": (app.effects.c.total * 7 + data.amount) % 1_000_003},
            )
        )

    svc = await services(fold_in)
    svc.consumer.transaction_size = 7  # several transactions per poll, too
    producer = AIOKafkaProducer(
        bootstrap_servers=infra.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for amount in range(1, per_key + 1):
            for key in keys:
                _, body = bump(key, amount)
                await producer.send(app.TOPIC, body, key=key.encode())
        await producer.flush()
    finally:
        await producer.stop()

    await svc.broker.start()

    expected = fold(list(range(1, per_key + 1)))

    async def all_applied() -> bool:
        return [await total(svc, key) for key in keys] == [expected] * len(keys)

    await eventually(all_applied, timeout=90)
    assert not armed  # the database did fail under one of the batches
