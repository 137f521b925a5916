"""Transactional outbox and its relay.

A unit of work writes its events into the ``outbox`` table in the same transaction as the state
change, and NOTIFYs the relay (PostgreSQL delivers the notification at commit, never for a
rolled-back transaction). The relay, woken by LISTEN or by an in-process call, claims a batch in
id order with ``FOR UPDATE SKIP LOCKED``, publishes it with ``acks=all`` on the idempotent
producer, deletes the batch and commits. A crash between publish and delete rolls the claim back,
so the batch is published again after restart; consumers absorb the duplicates. Nothing is lost.

Order: one aggregate's events must reach Kafka in the order they were written, so at most one
relay of a service publishes at a time: the claim transaction takes a transaction-level advisory
lock first, and a second replica's relay (which finds it held) waits as a hot standby.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_contracts.envelope import DomainEvent, new_envelope
from vaccinera_kit import correlation
from vaccinera_kit.database import OUTBOX, Database, listen
from vaccinera_kit.telemetry import Telemetry, current_trace_headers

log = logging.getLogger("vaccinera.outbox")

BATCH = 500
# One channel per database: the relay LISTENs, every unit of work that staged events NOTIFYs
# (delivered at commit, never for a rolled-back transaction).
OUTBOX_CHANNEL = "vaccinera_outbox"
# Any constant works: the lock lives in the service's own database.
RELAY_LOCK = 0x5641_4343_0001

PublishFn = Callable[[str, str, bytes, dict[str, str]], Awaitable[None]]
# Hands one record to the producer and returns the future of its acknowledgement.
SendFn = Callable[[str, str, bytes, dict[str, str]], Awaitable["asyncio.Future[Any]"]]

# The rows of a unit of work and the relay's wake-up call, in one statement (one round trip):
# a data-modifying WITH runs to completion whatever the outer SELECT reads.
_WRITE = text(
    f"WITH written AS (INSERT INTO {OUTBOX} (event_id, type, topic, key, value, headers) "
    "SELECT e, t, tp, k, v, CAST(h AS jsonb) FROM unnest("
    "CAST(:event_ids AS uuid[]), CAST(:types AS text[]), CAST(:topics AS text[]), "
    "CAST(:keys AS text[]), CAST(:values AS text[]), CAST(:headers AS text[])"
    ") AS r(e, t, tp, k, v, h) RETURNING 1) "
    f"SELECT pg_notify('{OUTBOX_CHANNEL}', '')"
)
# The relay's two hot statements (named, so a test can EXPLAIN exactly these).
CLAIM = text(
    f"SELECT id, event_id, type, topic, key, value, headers FROM {OUTBOX} "
    "ORDER BY id LIMIT :n FOR UPDATE SKIP LOCKED"
)
DELETE_PUBLISHED = text(f"DELETE FROM {OUTBOX} WHERE id = ANY(:ids)")


CORRELATION_HEADER = "correlation_id"


class Outbox:
    """Turns domain events into outbox rows inside the caller's transaction."""

    def __init__(self, producer: str) -> None:
        self.producer = producer

    def rows(self, events: Sequence[DomainEvent]) -> list[dict[str, Any]]:
        cause = correlation.current()
        # The Kafka record's correlation_id header is the envelope's (FastStream would make up
        # one of its own otherwise).
        headers = json.dumps({**current_trace_headers(), CORRELATION_HEADER: cause.correlation_id})
        rows = []
        for event in events:
            envelope = new_envelope(
                event,
                producer=self.producer,
                correlation_id=cause.correlation_id,
                causation_id=cause.causation_id,
            )
            rows.append(
                {
                    "event_id": envelope.event_id,
                    "type": envelope.type,
                    "topic": event.topic,
                    "key": event.aggregate_key(),
                    "value": envelope.model_dump_json(),
                    "headers": headers,
                }
            )
        return rows

    async def write(self, conn: AsyncConnection, events: Sequence[DomainEvent]) -> int:
        if not events:
            return 0
        return await self.write_rows(conn, self.rows(events))

    async def write_rows(self, conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> int:
        """Rows made by ``rows()`` (possibly of several units of work sharing one transaction):
        one insert and one NOTIFY for all of them."""
        if not rows:
            return 0
        await conn.execute(
            _WRITE,
            {
                "event_ids": [r["event_id"] for r in rows],
                "types": [r["type"] for r in rows],
                "topics": [r["topic"] for r in rows],
                "keys": [r["key"] for r in rows],
                "values": [r["value"] for r in rows],
                "headers": [r["headers"] for r in rows],
            },
        )
        return len(rows)


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        send: SendFn,
        telemetry: Telemetry,
        *,
        service: str,
        poll_interval: float = 1.0,
        batch: int = BATCH,
        on_published: Callable[[str, int], None] | None = None,
    ) -> None:
        self.db = db
        self.send = send
        self.telemetry = telemetry
        self.service = service
        self.poll_interval = poll_interval
        self.batch = batch
        self.on_published = on_published
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self) -> None:
        """Called after a local commit so the event goes out now."""
        self._wake.set()

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name=f"outbox-relay-{self.service}"),
            # Commits of other replicas (and of this one) wake the relay through NOTIFY.
            asyncio.create_task(
                listen(self.db, OUTBOX_CHANNEL, self._wake.set),
                name=f"outbox-listen-{self.service}",
            ),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database or broker trouble: keep the events, try again
                log.warning("outbox relay: %s, retrying", type(exc).__name__)
            # The poll only finds what another replica left when it died; commits wake us.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def drain(self) -> int:
        """Publish pending events in batches until the outbox is empty (or another relay holds
        the lock); returns how many this call published."""
        published = 0
        while True:
            count = await self._publish_batch()
            published += count
            if count < self.batch:
                return published

    async def _publish_batch(self) -> int:
        async with self.db.engine.begin() as conn:
            locked = await conn.scalar(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RELAY_LOCK}
            )
            if not locked:
                return 0
            rows = (await conn.execute(CLAIM, {"n": self.batch})).all()
            if not rows:
                return 0
            acks = []
            for row in rows:
                with self.telemetry.producer_span(f"{row.topic} publish", row.headers) as headers:
                    # Handed to the producer in id order: per partition, Kafka keeps it.
                    acks.append(
                        await self.send(
                            row.topic,
                            row.key,
                            row.value.encode(),
                            {
                                **headers,
                                CORRELATION_HEADER: row.headers.get(CORRELATION_HEADER, ""),
                                "event_id": str(row.event_id),
                                "event_type": row.type,
                            },
                        )
                    )
            # Every record acknowledged by all in-sync replicas before the rows go.
            await asyncio.gather(*acks)
            await conn.execute(DELETE_PUBLISHED, {"ids": [r.id for r in rows]})
        if self.on_published:
            for row in rows:
                self.on_published(row.topic, 1)
        return len(rows)
