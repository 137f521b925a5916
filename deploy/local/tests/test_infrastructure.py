"""The real servers behind the devstack: Kafka (JVM), PostgreSQL and the HTTP stand-ins."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import UnknownTopicOrPartitionError

from vaccinera_devstack.infra import Infrastructure
from vaccinera_devstack.postgres import PostgresServer
from vaccinera_devstack.process import free_port, port_open
from vaccinera_devstack.testing import dump_databases

pytestmark = pytest.mark.infra

# The least an R4 Immunization holds: status, vaccine, patient, when.
IMMUNIZATION: dict[str, Any] = {
    "resourceType": "Immunization",
    "status": "completed",
    "vaccineCode": {"coding": [{"system": "http://www.whocc.no/atc", "code": "J07BN01"}]},
    "patient": {"identifier": {"system": "urn:oid:1.2.752.129.2.1.3.1", "value": "191212121212"}},
    "occurrenceDateTime": "2026-12-01T10:00:00+01:00",
}
VALID_BODIES: dict[str, tuple[str, dict[str, Any], int]] = {
    "sms": (
        "/sms/v1/messages",
        {"to": "+46701234567", "text": "Din tid är bokad", "sender": "Region", "reference": "b-1"},
        202,
    ),
    "nvr": ("/nvr/fhir/Immunization", IMMUNIZATION, 201),
    "npo": ("/npo/fhir/Immunization", IMMUNIZATION, 201),
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


async def test_postgres_answers_as_the_admin(infra: Infrastructure) -> None:
    conn = await asyncpg.connect(infra.admin_url)
    try:
        assert (await conn.fetchval("SHOW server_version")).startswith("15.")
        assert await conn.fetchval("SHOW fsync") == "off"  # the session's durable=False
        assert await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    finally:
        await conn.close()


def test_postgres_never_runs_as_root(infra: Infrastructure) -> None:
    assert infra.postgres.process is not None
    assert Path(f"/proc/{infra.postgres.process.pid}").stat().st_uid != 0


async def test_a_service_owns_its_database_and_a_unique_index_holds(
    infra: Infrastructure,
) -> None:
    url = infra.database_url("x-test")
    assert infra.database_url("x-test") == url
    assert url == (
        f"postgresql://vaccinera_x_test:dev-vaccinera_x_test@127.0.0.1:{infra.ports.postgres}"
        "/vaccinera_x_test"
    )
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "CREATE TABLE people (id text PRIMARY KEY, email text NOT NULL, doses int)"
        )
        await conn.execute("CREATE UNIQUE INDEX people_email ON people (email)")
        await conn.execute("INSERT INTO people VALUES ('p1', 'a@example.se', 1)")
        assert await conn.fetchval("SELECT doses FROM people WHERE email = 'a@example.se'") == 1
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute("INSERT INTO people VALUES ('p2', 'a@example.se', 0)")
    finally:
        await conn.close()


async def test_a_service_role_reaches_no_other_database(infra: Infrastructure) -> None:
    own = infra.database_url("x-alpha")
    infra.database_url("x-beta")
    for other in ("vaccinera_x_beta", "postgres"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await asyncpg.connect(own, database=other)


async def test_btree_gist_is_created_by_the_service_role(infra: Infrastructure) -> None:
    conn = await asyncpg.connect(infra.database_url("x-gist"))
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        # What it is for: no two bookings of one column may overlap in time.
        await conn.execute(
            "CREATE TABLE slots (col text, during tstzrange,"
            " EXCLUDE USING gist (col WITH =, during WITH &&))"
        )
        await conn.execute("INSERT INTO slots VALUES ('1', '[2026-01-01 08:00, 2026-01-01 08:05)')")
        with pytest.raises(asyncpg.ExclusionViolationError):
            await conn.execute(
                "INSERT INTO slots VALUES ('1', '[2026-01-01 08:04, 2026-01-01 08:09)')"
            )
    finally:
        await conn.close()


async def test_dump_databases_shows_text_jsonb_and_bytea(infra: Infrastructure) -> None:
    conn = await asyncpg.connect(infra.database_url("x-dump"))
    try:
        await conn.execute("CREATE TABLE contacts (note text, doc jsonb, blob bytea)")
        await conn.execute(
            "INSERT INTO contacts VALUES ($1, $2, $3)",
            "Okänd patient",
            '{"mobile": "+46701740001"}',
            b"sms to +46701740002",
        )
    finally:
        await conn.close()
    dump = await dump_databases(infra.admin_url)
    for text in ("vaccinera_x_dump.public.contacts", "Okänd", "+46701740001", "+46701740002"):
        assert text in dump


def test_postgres_restarts_on_its_data_dir(tmp_path: Path) -> None:
    # A pytest tmp dir: when root, the server's own user cannot enter it (see postgres.py).
    server = PostgresServer(free_port(), tmp_path / "pg", tmp_path / "pg.log", durable=False)
    for round_ in range(2):
        server.start()
        try:
            server.wait_ready(30)
            url = server.database_url("x-restart")
            assert asyncio.run(_count_and_add(url)) == round_
        finally:
            server.stop()
        assert not port_open(server.port)


async def _count_and_add(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS visits (at timestamptz DEFAULT now())")
        count: int = await conn.fetchval("SELECT count(*) FROM visits")
        await conn.execute("INSERT INTO visits DEFAULT VALUES")
        return count
    finally:
        await conn.close()


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
    ("kind", "bad_body", "status"),
    [
        ("sms", {"text": "no recipient"}, 422),
        ("nvr", {"resourceType": "Patient"}, 400),
        # An Immunization without a patient is not a valid FHIR R4 resource (RX-1).
        ("nvr", {k: v for k, v in IMMUNIZATION.items() if k != "patient"}, 400),
        ("npo", {**IMMUNIZATION, "occurrenceDateTime": "igår"}, 400),
    ],
)
def test_standin_rejects_invalid_bodies(
    infra: Infrastructure, kind: str, bad_body: Any, status: int
) -> None:
    path, _, _ = VALID_BODIES[kind]
    r = httpx.post(infra.standin_url(kind) + path, json=bad_body)
    assert r.status_code == status
    if kind != "sms":
        assert r.json()["resourceType"] == "OperationOutcome"
