"""The kit over the real Kafka and PostgreSQL: a unit of work commits state and events together,
the outbox relay loses nothing across a kill -9 and two relays never publish an event twice,
consumers have exactly one effect per event, poison messages are parked on the dead-letter topic
and the consumer goes on."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import func, select

import kit_test_app as app
from vaccinera_contracts.envelope import new_envelope
from vaccinera_contracts.topics import dead_letter_topic
from vaccinera_devstack.infra import Infrastructure
from vaccinera_devstack.kafka import ensure_topics
from vaccinera_devstack.testing import eventually, read_topic
from vaccinera_kit.app import Service
from vaccinera_kit.database import service_metadata

pytestmark = pytest.mark.infra
HERE = Path(__file__).parent
outbox = service_metadata().tables["outbox"]


@pytest.fixture
async def database_url(infra: Infrastructure) -> str:
    return infra.database_url(f"kit-{uuid.uuid4().hex[:8]}")


async def started(svc: Service) -> Service:
    await ensure_topics(
        svc.settings.kafka_bootstrap, [app.TOPIC, dead_letter_topic(svc.settings.service_name)]
    )
    await svc.migrate()
    return svc


@pytest.fixture
async def service(infra: Infrastructure, database_url: str) -> AsyncIterator[Service]:
    svc = await started(app.build(infra.kafka_bootstrap, database_url, consumer_max_attempts=2))
    yield svc
    await svc.relay.stop()
    await svc.broker.stop()
    await svc.db.dispose()


async def publish_raw(bootstrap: str, topic: str, *values: bytes) -> list[tuple[int, int]]:
    """Publish in order on one key; returns (partition, offset) of each record."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        sent = [await producer.send_and_wait(topic, value, key=b"k") for value in values]
    finally:
        await producer.stop()
    return [(m.partition, m.offset) for m in sent]


async def consumed_past(service: Service, partition: int, offset: int) -> bool:
    """The service's consumer group has committed beyond ``offset``: it processed it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=service.settings.kafka_bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(service.settings.service_name)
    finally:
        await admin.close()
    position = committed.get(TopicPartition(app.TOPIC, partition))
    return position is not None and position.offset > offset


def envelope_bytes(counter_id: str, amount: int = 1, explode: bool = False) -> tuple[str, bytes]:
    env = new_envelope(
        app.CounterBumped(counter_id=counter_id, amount=amount, explode=explode), producer="test"
    )
    return str(env.event_id), env.model_dump_json().encode()


async def pending(service: Service) -> int:
    async with service.db.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(outbox)) or 0)


async def total(service: Service, counter_id: str) -> int | None:
    async with service.db.connect() as conn:
        return await conn.scalar(
            select(app.effects.c.total).where(app.effects.c.counter_id == counter_id)
        )


async def crash(mode: str, infra: Infrastructure, url: str, arg: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "crash_tools.py"),
        mode,
        url,
        infra.kafka_bootstrap,
        arg,
        cwd=HERE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == -9, stderr.decode()[-2000:]
    return stdout.decode()


async def mine(infra: Infrastructure, prefix: str, expected: int) -> list[dict[str, object]]:
    records = await read_topic(
        infra.kafka_bootstrap,
        app.TOPIC,
        until=lambda rs: (
            sum(json.loads(r.value)["data"]["counter_id"].startswith(prefix) for r in rs)
            >= expected
        ),
        timeout=20,
    )
    return [
        json.loads(r.value)
        for r in records
        if json.loads(r.value)["data"]["counter_id"].startswith(prefix)
    ]


async def test_a_failed_unit_of_work_leaves_neither_state_nor_event(service: Service) -> None:
    async def failing_request() -> None:
        async with service.unit_of_work() as uow:
            await app.bump_counter(uow, "doomed", 1)
            raise RuntimeError("the request failed after writing")

    with pytest.raises(RuntimeError):
        await failing_request()
    async with service.db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(app.counters)) == 0
    assert await pending(service) == 0


async def test_event_committed_before_a_crash_is_published_once_after_restart(
    infra: Infrastructure, service: Service, database_url: str
) -> None:
    counter_id = f"c-{uuid.uuid4()}"
    # The writer commits state + event in one transaction, then is SIGKILLed before its relay
    # could publish anything.
    await crash("after-write", infra, database_url, counter_id)
    assert await pending(service) == 1  # state and event survived together

    # A relay starting afterwards (the restarted process) publishes it, once.
    await service.broker.start()
    assert await service.relay.drain() == 1
    assert await service.relay.drain() == 0
    published = await mine(infra, counter_id, 1)
    assert [e["data"] for e in published] == [
        {"counter_id": counter_id, "amount": 1, "explode": False}
    ]
    assert await pending(service) == 0


async def test_relay_killed_between_publish_and_delete_loses_nothing_and_consumers_absorb_the_repeat(
    infra: Infrastructure, service: Service, database_url: str
) -> None:
    # kill -9 after Kafka acknowledged every event of the batch, before the rows were deleted.
    await crash("mid-relay", infra, database_url, "40")
    assert await pending(service) == 40  # the claim rolled back: nothing is lost

    await service.broker.start()  # the restarted relay publishes the batch again ...
    service.relay.start()
    await eventually(lambda: _equals(pending(service), 0), timeout=20)
    published = await mine(infra, "mid-relay-", 80)
    per_event = Counter(str(e["event_id"]) for e in published)
    assert len(per_event) == 40
    assert set(per_event.values()) == {2}  # ... so each event is on the topic twice

    # ... and the service's own consumer, reading the topic, applies each event once.
    async def all_applied() -> bool:
        totals = [await total(service, f"mid-relay-{i}") for i in range(40)]
        return all(t is not None for t in totals)

    await eventually(all_applied, timeout=60)
    await eventually(lambda: _consumed(service, "duplicate", 40), timeout=30)
    assert [await total(service, f"mid-relay-{i}") for i in range(40)] == [1] * 40


async def test_two_relays_publish_every_event_exactly_once_in_write_order(
    infra: Infrastructure, service: Service, database_url: str
) -> None:
    other = await started(app.build(infra.kafka_bootstrap, database_url))
    prefix = f"two-{uuid.uuid4().hex[:6]}-"
    try:
        await asyncio.gather(service.broker.start(), other.broker.start())
        service.relay.start()
        other.relay.start()

        async def write(writer: Service, counter: int) -> None:
            for _ in range(10):
                async with writer.unit_of_work() as uow:
                    await app.bump_counter(uow, f"{prefix}{counter}", 1)

        # 60 counters, each bumped 10 times from alternating replicas, all at once.
        await asyncio.gather(*(write((service, other)[i % 2], i) for i in range(60)))
        published = await mine(infra, prefix, 600)
        assert len(published) == 600
        assert len({e["event_id"] for e in published}) == 600
        assert await pending(service) == 0
        # One counter's events come in the order they were committed (Kafka key = counter).
        first = [e for e in published if e["data"]["counter_id"] == f"{prefix}0"]
        assert [e["occurred_at"] for e in first] == sorted(e["occurred_at"] for e in first)
    finally:
        await other.relay.stop()
        await other.broker.stop()
        await other.db.dispose()


async def test_relay_publishes_a_fresh_commit_without_waiting_for_the_poll(
    infra: Infrastructure, database_url: str
) -> None:
    # A poll interval of a minute: only the commit's wake-up can publish within the test.
    svc = await started(app.build(infra.kafka_bootstrap, database_url, relay_poll_interval=60))
    try:
        await svc.broker.start()
        svc.relay.start()
        await asyncio.sleep(0.5)  # the relay's first (empty) round is over
        async with svc.unit_of_work() as uow:
            await app.bump_counter(uow, "fresh", 5)
        await eventually(lambda: _equals(pending(svc), 0), timeout=10)
    finally:
        await svc.relay.stop()
        await svc.broker.stop()
        await svc.db.dispose()


async def test_same_event_delivered_twice_has_one_effect(
    infra: Infrastructure, service: Service
) -> None:
    counter_id = f"c-{uuid.uuid4()}"
    _, body = envelope_bytes(counter_id, amount=7)
    await service.broker.start()
    *_, (partition, last) = await publish_raw(infra.kafka_bootstrap, app.TOPIC, body, body)
    await eventually(lambda: consumed_past(service, partition, last), timeout=30)
    assert await total(service, counter_id) == 7


async def test_two_replicas_handling_the_same_event_at_once_apply_it_once(
    infra: Infrastructure, service: Service, database_url: str
) -> None:
    # A second replica: same service name, so same consumer group and same processed events.
    other = await started(
        app.build(infra.kafka_bootstrap, database_url, service_name=service.settings.service_name)
    )
    counter_id = f"c-{uuid.uuid4()}"
    _, body = envelope_bytes(counter_id, amount=3)
    try:
        outcomes = await asyncio.gather(
            service.consumer.process(body, {}, app.TOPIC, 0, 0),
            other.consumer.process(body, {}, app.TOPIC, 0, 0),
        )
    finally:
        await other.db.dispose()
    assert sorted(outcomes) == ["duplicate", "handled"]
    assert await total(service, counter_id) == 3


async def test_poison_messages_are_dead_lettered_and_later_messages_still_processed(
    infra: Infrastructure, service: Service
) -> None:
    counter_id = f"c-{uuid.uuid4()}"
    _, failing = envelope_bytes(counter_id, explode=True)
    bad_payload = json.dumps(
        {**json.loads(envelope_bytes(counter_id)[1]), "data": {"counter_id": counter_id}}
    ).encode()
    good_id, good = envelope_bytes(counter_id, amount=3)
    await service.broker.start()
    await publish_raw(
        infra.kafka_bootstrap, app.TOPIC, b"\x00not json at all", bad_payload, failing, good
    )

    await eventually(lambda: _equals(total(service, counter_id), 3), timeout=30)
    dlq = dead_letter_topic(service.settings.service_name)
    parked = await read_topic(infra.kafka_bootstrap, dlq, until=lambda r: len(r) >= 3, timeout=15)
    reasons = sorted(r.headers["dlq_reason"] for r in parked)
    assert len(parked) == 3
    assert any(r.startswith("not JSON") for r in reasons)
    assert any("amount" in r and "Field required" in r for r in reasons)
    assert any(r.startswith("handler failed 2 times") for r in reasons)
    assert {r.headers["dlq_source_topic"] for r in parked} == {app.TOPIC}
    assert b"\x00not json at all" in {r.value for r in parked}  # parked as it was, not lost
    assert good_id not in {r.headers.get("event_id") for r in parked}


async def _equals(value: object, expected: object) -> bool:
    return await value == expected  # type: ignore[misc]


async def _consumed(service: Service, outcome: str, at_least: int) -> bool:
    metric = service.metrics.events_consumed.labels(app.CounterBumped.event_type, outcome)
    return bool(metric._value.get() >= at_least)
