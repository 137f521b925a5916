"""The real servers behind the devstack: Kafka (JVM), FerretDB and the HTTP stand-ins."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import UnknownTopicOrPartitionError
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from vaccinera_devstack.infra import Infrastructure

pytestmark = pytest.mark.infra

VALID_BODIES: dict[str, tuple[str, dict[str, Any], int]] = {
    "sms": (
        "/sms/v1/messages",
        {"to": "+46701234567", "text": "Din tid är bokad", "sender": "Region", "reference": "b-1"},
        202,
    ),
    "nvr": ("/nvr/fhir/Immunization", {"resourceType": "Immunization", "status": "completed"}, 201),
    "npo": ("/npo/fhir/Immunization", {"resourceType": "Immunization", "status": "completed"}, 201),
}


def test_kafka_is_a_real_jvm_broker(infra: Infrastructure) -> None:
    assert infra.kafka.process is not None
    cmdline = Path(f"/proc/{infra.kafka.process.pid}/cmdline").read_bytes().split(b"\0")
    assert Path(cmdline[0].decode()).name == "java"
    assert b"kafka.Kafka" in cmdline


async def test_topics_exist_with_three_partitions(infra: Infrastructure) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(infra.topics)
    finally:
        await admin.close()
    assert {topic["topic"]: len(topic["partitions"]) for topic in described} == dict.fromkeys(
        infra.topics, 3
    )


async def test_producing_to_an_unknown_topic_fails(infra: Infrastructure) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, request_timeout_ms=1500)
    await producer.start()
    try:
        with pytest.raises(UnknownTopicOrPartitionError):
            await producer.send_and_wait("devstack.test.typo", b"lost")
    finally:
        await producer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        assert "devstack.test.typo" not in await admin.list_topics()
    finally:
        await admin.close()


async def test_message_produced_with_acks_all_is_consumed_and_committed(
    infra: Infrastructure,
) -> None:
    topic = infra.topics[0]
    key, value = uuid.uuid4().bytes, b"booking-confirmed"
    producer = AIOKafkaProducer(
        bootstrap_servers=infra.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=infra.kafka_bootstrap,
        group_id=f"devstack-test-{uuid.uuid4()}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        found = None
        for _ in range(50):
            batches = await consumer.getmany(timeout_ms=200)
            found = next((m for msgs in batches.values() for m in msgs if m.key == key), found)
            if found is not None:
                break
        assert found is not None
        assert found.value == value
        await consumer.commit()
        partition = TopicPartition(topic, sent.partition)
        assert await consumer.committed(partition) == sent.offset + 1
    finally:
        await consumer.stop()


async def test_ferretdb_ping_roundtrip_and_unique_index(infra: Infrastructure) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_url)
    try:
        assert (await client.admin.command("ping"))["ok"] == 1.0
        people = client["devstack_test"]["people"]
        await people.create_index("email", unique=True)
        await people.insert_one({"_id": "p1", "email": "a@example.se", "doses": 1})
        assert await people.find_one({"email": "a@example.se"}) == {
            "_id": "p1",
            "email": "a@example.se",
            "doses": 1,
        }
        with pytest.raises(DuplicateKeyError) as raised:
            await people.insert_one({"_id": "p2", "email": "a@example.se"})
        assert raised.value.code == 11000
    finally:
        await client.close()


@pytest.mark.parametrize("kind", ["sms", "nvr", "npo"])
def test_standin_records_posts_and_fails_on_request(infra: Infrastructure, kind: str) -> None:
    path, body, success = VALID_BODIES[kind]
    headers = {"Idempotency-Key": str(uuid.uuid4()), "traceparent": f"00-{'a' * 32}-{'b' * 16}-01"}
    with infra.standin(kind) as standin, httpx.Client(base_url=standin.base_url) as http:
        standin.reset()
        first = http.post(path, json=body, headers=headers)
        assert first.status_code == success
        [record] = standin.received(path)
        assert record["body"] == body
        assert record["headers"]["idempotency-key"] == headers["Idempotency-Key"]
        assert record["headers"]["traceparent"] == headers["traceparent"]

        standin.behave(fail_next=1)
        assert http.post(path, json=body).status_code == 503
        assert http.post(path, json=body).status_code == success
        assert len(standin.received(path)) == 2
        assert [r["status"] for r in standin.rejected(path)] == [503]
        assert len(standin.received(path, include_rejected=True)) == 3


@pytest.mark.parametrize(
    ("kind", "bad_body"),
    [("sms", {"text": "no recipient"}), ("nvr", {"resourceType": "Patient"})],
)
def test_standin_rejects_invalid_bodies(infra: Infrastructure, kind: str, bad_body: Any) -> None:
    path, _, _ = VALID_BODIES[kind]
    assert httpx.post(infra.standin_url(kind) + path, json=bad_body).status_code == 422
