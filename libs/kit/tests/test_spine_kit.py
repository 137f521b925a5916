"""The kit over the real Kafka and FerretDB: outbox relay survives a crash, consumers are
idempotent, poison messages are parked on the dead-letter topic and the consumer goes on."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

import kit_test_app as app
from vaccinera_contracts.envelope import new_envelope
from vaccinera_contracts.topics import dead_letter_topic
from vaccinera_devstack.infra import Infrastructure
from vaccinera_devstack.kafka import ensure_topics
from vaccinera_devstack.testing import eventually, read_topic
from vaccinera_kit.app import Service
from vaccinera_kit.database import ensure_indexes
from vaccinera_kit.outbox import OUTBOX, OUTBOX_PENDING

pytestmark = pytest.mark.infra
HERE = Path(__file__).parent


@pytest.fixture
async def service(infra: Infrastructure) -> AsyncIterator[Service]:
    svc = app.build(infra.kafka_bootstrap, infra.mongo_url, consumer_max_attempts=2)
    await ensure_topics(
        infra.kafka_bootstrap, [app.TOPIC, dead_letter_topic(svc.settings.service_name)]
    )
    await ensure_indexes(svc.db, svc.spec.collections)
    yield svc
    await svc.relay.stop()
    await svc.broker.stop()
    await svc.client.drop_database(svc.settings.database_name)
    await svc.client.close()


async def publish_raw(bootstrap: str, topic: str, *values: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()


def envelope_bytes(counter_id: str, amount: int = 1, explode: bool = False) -> tuple[str, bytes]:
    env = new_envelope(
        app.CounterBumped(counter_id=counter_id, amount=amount, explode=explode), producer="test"
    )
    return str(env.event_id), env.model_dump_json().encode()


async def test_indexes_can_be_ensured_again_on_restart(service: Service) -> None:
    # A restarted service ensures the same indexes on the existing collections.
    await ensure_indexes(service.db, service.spec.collections)
    await ensure_indexes(service.db, service.spec.collections)
    names = set(await service.db[app.COUNTERS].index_information())
    assert {"n_1", "outbox_pending"} <= names


async def test_outbox_event_written_before_a_crash_is_published_once_after_restart(
    infra: Infrastructure, service: Service
) -> None:
    counter_id = f"c-{uuid.uuid4()}"
    # The writer commits state + event in one document write, then is SIGKILLed before
    # its relay could publish anything.
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "crash_after_write.py"),
        infra.mongo_url,
        service.settings.database_name,
        counter_id,
        cwd=HERE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == -9, stderr.decode()
    event_id = stdout.decode().strip()
    doc = await service.db[app.COUNTERS].find_one({"_id": counter_id})
    assert doc is not None and doc[OUTBOX_PENDING] is True  # state and event survived together

    # A relay starting afterwards (the restarted process) publishes it.
    await service.broker.start()
    assert await service.relay.drain() == 1
    assert await service.relay.drain() == 0  # and only once

    records = await read_topic(infra.kafka_bootstrap, app.TOPIC, timeout=3)
    mine = [r for r in records if r.headers.get("event_id") == event_id]
    assert len(mine) == 1
    assert json.loads(mine[0].value)["data"] == {
        "counter_id": counter_id,
        "amount": 1,
        "explode": False,
    }
    assert mine[0].key == counter_id.encode()  # keyed by aggregate: one counter, one partition
    doc = await service.db[app.COUNTERS].find_one({"_id": counter_id})
    assert doc is not None and doc[OUTBOX] == [] and OUTBOX_PENDING not in doc


async def test_relay_publishes_a_fresh_write_without_waiting_for_the_poll(
    infra: Infrastructure, service: Service
) -> None:
    counter_id = f"c-{uuid.uuid4()}"
    await service.broker.start()
    service.relay.start()
    doc = service.outbox.new_document(
        {"_id": counter_id, "n": 2}, [app.CounterBumped(counter_id=counter_id, amount=5)]
    )
    await service.db[app.COUNTERS].insert_one(doc)
    service.outbox.committed()

    async def published() -> bool:
        d = await service.db[app.COUNTERS].find_one({"_id": counter_id})
        return d is not None and OUTBOX_PENDING not in d

    await eventually(published, timeout=10)


async def test_same_event_delivered_twice_has_one_effect(
    infra: Infrastructure, service: Service
) -> None:
    counter_id = f"c-{uuid.uuid4()}"
    event_id, body = envelope_bytes(counter_id, amount=7)
    await service.broker.start()
    await publish_raw(infra.kafka_bootstrap, app.TOPIC, body, body)
    effects = service.db[app.EFFECTS]

    async def handled() -> bool:
        return await service.db["_processed_events"].find_one({"_id": event_id}) is not None

    await eventually(handled)
    # The second copy sits right behind the first on the same partition; let it be consumed.
    await eventually(lambda: _consumed(service, "duplicate"), timeout=10)
    doc = await effects.find_one({"_id": counter_id})
    assert doc is not None and doc["total"] == 7

    # Even if the processed record were lost (crash between effect and record), the effect
    # itself remembers the event: a third delivery changes nothing.
    await service.db["_processed_events"].delete_one({"_id": event_id})
    outcome = await service.consumer.process(body, {}, app.TOPIC, 0, 0)
    assert outcome == "handled"
    doc = await effects.find_one({"_id": counter_id})
    assert doc is not None and doc["total"] == 7


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

    async def good_handled() -> bool:
        doc = await service.db[app.EFFECTS].find_one({"_id": counter_id})
        return doc is not None and doc.get("total") == 3

    await eventually(good_handled, timeout=30)
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


async def _consumed(service: Service, outcome: str) -> bool:
    metric = service.metrics.events_consumed.labels(app.CounterBumped.event_type, outcome)
    return metric._value.get() >= 1
