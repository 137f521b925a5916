"""Helpers for tests over the real servers: wait for a condition, read a topic back."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from vaccinera_devstack import postgres


async def eventually(
    check: Callable[[], Awaitable[bool]],
    timeout: float = 20.0,  # noqa: ASYNC109
    interval: float = 0.1,
) -> None:
    """Wait until ``check`` holds; fail with a clear message when it never does."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout:.0f}s")
        await asyncio.sleep(interval)


@dataclass(frozen=True)
class Record:
    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, str]


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[Record]], bool] | None = None,
    timeout: float = 10.0,  # noqa: ASYNC109
) -> list[Record]:
    """Everything on ``topic`` from the beginning, until ``until`` holds or ``timeout`` passes
    (with no ``until``, the full ``timeout`` is waited, to show that nothing more arrives)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"test-reader-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Record] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                for m in messages:
                    records.append(
                        Record(
                            m.topic,
                            m.key,
                            m.value,
                            {k: v.decode() for k, v in (m.headers or ())},
                        )
                    )
            if until is not None and until(records):
                break
    finally:
        await consumer.stop()
    return records


async def read_everything(bootstrap: str, timeout: float = 30.0) -> list[Record]:  # noqa: ASYNC109
    """Every message on every topic of the cluster, up to the end offsets at the time of the
    call: for tests that must show some data is nowhere on the broker."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list[Record] = []
    try:
        topics = sorted(t for t in await consumer.topics() if not t.startswith("__"))
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            described = await admin.describe_topics(topics)
        finally:
            await admin.close()
        partitions = [
            TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            if time.monotonic() > deadline:
                raise AssertionError("could not read the topics to their end in time")
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                for m in messages:
                    records.append(
                        Record(
                            m.topic, m.key, m.value, {k: v.decode() for k, v in (m.headers or ())}
                        )
                    )
    finally:
        await consumer.stop()
    return records


async def dump_databases(admin_url: str, *, services_only: bool = False) -> str:
    """Every row of every table in every service database (vaccinera_*) as one text, one
    ``database.schema.table: row`` line each, for "found nowhere" checks; bytea is decoded.
    ``services_only``: the running services' own databases, not the databases other tests
    made for themselves (some hold a million rows of made-up data)."""
    from vaccinera_contracts.topics import SERVICES

    only = [f"vaccinera_{s.replace('-', '_')}" for s in SERVICES] if services_only else None
    return await postgres.dump_databases(admin_url, only=only)


async def publish(producer: AIOKafkaProducer, *events: Any, by: str = "test") -> list[str]:
    """Publish domain events as a service's outbox relay would: each in its envelope, keyed by
    its aggregate, with the event id and type headers. Returns the event ids."""
    from vaccinera_contracts.envelope import new_envelope

    ids, sent = [], []
    for event in events:
        envelope = new_envelope(event, producer=by)
        sent.append(
            await producer.send(
                event.topic,
                envelope.model_dump_json().encode(),
                key=event.aggregate_key().encode(),
                headers=[
                    ("event_id", str(envelope.event_id).encode()),
                    ("event_type", event.event_type.encode()),
                ],
            )
        )
        ids.append(str(envelope.event_id))
    await asyncio.gather(*sent)
    return ids
