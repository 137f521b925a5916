"""Transactional outbox without multi-document transactions, and its relay.

A state change and the events it causes are one single-document write: pending events live in
the changed document's ``_outbox`` array (plus an indexed ``_outbox_pending`` flag). The relay
publishes them with ``acks=all`` on an idempotent producer and only then removes them, so an
event is never lost; a relay that dies between publish and removal publishes again after
restart, which idempotent consumers absorb. One relay per service holds a lease, so replicas do
not publish the same event side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError, PyMongoError

from vaccinera_contracts.envelope import DomainEvent, new_envelope
from vaccinera_kit import correlation
from vaccinera_kit.database import CollectionSpec, Database, Document
from vaccinera_kit.telemetry import Telemetry, current_trace_headers

log = logging.getLogger("vaccinera.outbox")

OUTBOX = "_outbox"
OUTBOX_PENDING = "_outbox_pending"
LEASES = "_relay_leases"
BATCH = 200

PublishFn = Callable[[str, str, bytes, dict[str, str]], Awaitable[None]]


class Outbox:
    """Turns domain events into outbox entries that ride along with a document write."""

    def __init__(self, producer: str) -> None:
        self.producer = producer
        self._listeners: list[Callable[[], None]] = []

    def on_commit(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def committed(self) -> None:
        """Stores call this after a write that carried events: the relay publishes at once."""
        for listener in self._listeners:
            listener()

    def entries(self, events: Sequence[DomainEvent]) -> list[Document]:
        cause = correlation.current()
        trace_headers = current_trace_headers()
        entries = []
        for event in events:
            envelope = new_envelope(
                event,
                producer=self.producer,
                correlation_id=cause.correlation_id,
                causation_id=cause.causation_id,
            )
            entries.append(
                {
                    "event_id": str(envelope.event_id),
                    "type": envelope.type,
                    "topic": event.topic,
                    "key": event.aggregate_key(),
                    "value": envelope.model_dump_json(),
                    "headers": trace_headers,
                }
            )
        return entries

    def new_document(self, document: Document, events: Sequence[DomainEvent]) -> Document:
        """A document to insert, carrying its events."""
        if not events:
            return document
        return {**document, OUTBOX: self.entries(events), OUTBOX_PENDING: True}

    def update(self, update: Mapping[str, Any], events: Sequence[DomainEvent]) -> dict[str, Any]:
        """An update operator document that also appends the events."""
        merged: dict[str, Any] = {op: dict(fields) for op, fields in update.items()}
        if events:
            merged.setdefault("$push", {})[OUTBOX] = {"$each": self.entries(events)}
            merged.setdefault("$set", {})[OUTBOX_PENDING] = True
        return merged


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        collections: Sequence[CollectionSpec],
        publish: PublishFn,
        telemetry: Telemetry,
        *,
        service: str,
        poll_interval: float = 0.25,
        lease_seconds: float = 5.0,
        on_published: Callable[[str], None] | None = None,
    ) -> None:
        self.db = db
        self.collections = [c for c in collections if c.outbox]
        self.publish = publish
        self.telemetry = telemetry
        self.service = service
        self.owner = f"{service}-{uuid.uuid4()}"
        self.poll_interval = poll_interval
        self.lease = timedelta(seconds=lease_seconds)
        self.on_published = on_published
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Called after a local write so the event goes out now, not at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.service}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            await self._release_lease()

    async def _run(self) -> None:
        while True:
            try:
                if await self._hold_lease():
                    await self.drain()
            except PyMongoError as exc:
                log.warning("outbox relay: database unavailable (%s), retrying", type(exc).__name__)
            except Exception as exc:  # broker errors: keep the events, try again
                log.warning("outbox relay: publish failed (%s), retrying", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()

    async def drain(self) -> int:
        """Publish every pending event of every outbox collection; returns how many."""
        published = 0
        for spec in self.collections:
            name = spec.name
            seen: set[object] = set()
            while True:
                # Each document at most once per drain: a document that stays pending (e.g. a
                # write appended meanwhile) waits for the next round instead of spinning here.
                docs = (
                    await self.db[name]
                    .find(
                        {OUTBOX_PENDING: True, "_id": {"$nin": list(seen)}},
                        {OUTBOX: 1},
                        limit=BATCH,
                    )
                    .to_list()
                )
                for doc in docs:
                    seen.add(doc["_id"])
                    published += await self._publish_document(spec, doc)
                if len(docs) < BATCH:
                    break
        return published

    async def _publish_document(self, spec: CollectionSpec, doc: Document) -> int:
        coll = self.db[spec.name]
        count = 0
        for entry in doc.get(OUTBOX, []):
            with self.telemetry.producer_span(
                f"{entry['topic']} publish", entry.get("headers") or {}
            ) as headers:
                await self.publish(
                    entry["topic"],
                    entry["key"],
                    entry["value"].encode(),
                    {**headers, "event_id": entry["event_id"], "event_type": entry["type"]},
                )
            # Pull the exact entry as read: FerretDB 1.x ignores $pull conditions on
            # subdocuments and only removes whole equal values.
            await coll.update_one({"_id": doc["_id"]}, {"$pull": {OUTBOX: entry}})
            count += 1
            if self.on_published:
                self.on_published(entry["topic"])
        # Clear the flag only if no new event was appended meanwhile (conditional, atomic).
        done = {"_id": doc["_id"], OUTBOX: {"$size": 0}}
        if spec.transient:
            await coll.delete_one(done)
        else:
            await coll.update_one(done, {"$unset": {OUTBOX_PENDING: ""}})
        return count

    async def _hold_lease(self) -> bool:
        now = datetime.now(UTC)
        leases = self.db[LEASES]
        taken = await leases.update_one(
            {"_id": "relay", "$or": [{"owner": self.owner}, {"until": {"$lt": now}}]},
            {"$set": {"owner": self.owner, "until": now + self.lease}},
        )
        if taken.matched_count:
            return True
        try:
            await leases.insert_one(
                {"_id": "relay", "owner": self.owner, "until": now + self.lease}
            )
        except DuplicateKeyError:
            return False
        return True

    async def _release_lease(self) -> None:
        with contextlib.suppress(PyMongoError):
            await self.db[LEASES].update_one(
                {"_id": "relay", "owner": self.owner},
                {"$set": {"until": datetime.fromtimestamp(0, UTC)}},
            )
