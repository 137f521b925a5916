"""Idempotent event consumer with a dead-letter topic, one transaction per Kafka batch.
(Over 400 lines: batching, retries, dead-lettering and redelivery share one state machine per
batch; split apart, each part would need the others' invariants restated.)

One FastStream batch subscriber per topic receives raw bytes, so a message that cannot even be
parsed still reaches this code and can be parked instead of blocking the partition. Handlers are
typed by the event models of ``vaccinera_contracts`` and get the unit of work they write in:

    @consumer.on(PatientRegistered)
    async def record_patient(event: TypedEnvelope[PatientRegistered], uow: UnitOfWork) -> None:
        ...

A poll brings the records Kafka has ready (up to ``batch_size``, not waiting for more). Each
partition's records are handled in offset order (one aggregate's events in order), partitions
side by side (up to ``workers`` at once), in transactions of up to ``transaction_size`` records:

1. every record is parsed; one that is not an event envelope, or whose payload does not fit its
   event, is parked on the dead-letter topic and the others go on;
2. one statement claims the event ids in ``processed_events``: an id already there (a
   redelivery, or the same event twice in the batch) is a duplicate and its handler does not run;
   a replica racing for the same ids waits on their keys and then finds them taken;
3. each handler runs in a SAVEPOINT: one that fails is rolled back alone and retried in a new
   savepoint; after ``max_attempts`` its claim is withdrawn and it is parked, the others stay
   (a handler that calls ``uow.rollback_only()`` changes nothing and counts as handled);
4. the events the handlers published go to the outbox in one insert with one NOTIFY, the
   transaction commits once; then the parked records go to the dead-letter topic and the
   offsets are committed.

Exactly-once effect: an event's writes and its row ``(consumer, event_id)`` commit together.
When the database cannot be reached, nothing is committed (neither rows nor offsets): after a
pause the offsets are rewound and the batch is delivered again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage as RawKafkaMessage
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_contracts.envelope import DomainEvent, EventEnvelope, TypedEnvelope
from vaccinera_contracts.topics import dead_letter_topic
from vaccinera_kit import correlation
from vaccinera_kit.database import PROCESSED_EVENTS
from vaccinera_kit.metrics import Metrics
from vaccinera_kit.outbox import PublishFn
from vaccinera_kit.settings import ServiceSettings
from vaccinera_kit.telemetry import Telemetry
from vaccinera_kit.unit_of_work import BatchOfWork, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("vaccinera.consumer")

E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[TypedEnvelope[Any], UnitOfWork], Awaitable[None]]

# Records per poll (all partitions of the topic together). A poll returns what has arrived; it
# waits up to BATCH_WAIT_MS only when nothing has.
BATCH_SIZE = 150
BATCH_WAIT_MS = 100
# Records per transaction: one savepoint each, and PostgreSQL keeps the ids of at most 64
# subtransactions per backend in shared memory; beyond that every other session's snapshot
# lookups get slower, so stay well below it (retries take savepoints too).
TRANSACTION_SIZE = 50

# Claims the batch's event ids; returns those that were new. Sorted, so two replicas claiming
# overlapping batches take the keys in the same order and never deadlock.
MARK_PROCESSED = text(
    f"INSERT INTO {PROCESSED_EVENTS} (consumer, event_id, type) "
    "SELECT CAST(:consumer AS text), e.event_id, e.type "
    "FROM unnest(CAST(:event_ids AS uuid[]), CAST(:types AS text[])) AS e(event_id, type) "
    "ORDER BY e.event_id "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)
# Withdraws the claims of events whose handler kept failing (they are dead-lettered).
UNMARK_PROCESSED = text(
    f"DELETE FROM {PROCESSED_EVENTS} "
    "WHERE consumer = :consumer AND event_id = ANY(CAST(:event_ids AS uuid[]))"
)


class InfrastructureError(Exception):
    """The database could not be reached: not the message's fault."""


def _infrastructure(exc: BaseException) -> bool:
    # Never dead-letter for these: back off and let the message be redelivered.
    if isinstance(exc, InfrastructureError):
        return True
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout | OSError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


@dataclass(frozen=True)
class Registration:
    model: type[DomainEvent]
    handler: Handler


class PoisonMessage(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Delivery:
    """One Kafka record as the kit needs it, before any parsing that could fail."""

    body: bytes
    headers: dict[str, str]
    partition: int
    offset: int


@dataclass(frozen=True)
class _Event:
    """A record of the batch that parsed into an event this consumer handles."""

    index: int  # in the batch
    delivery: Delivery
    registration: Registration
    typed: TypedEnvelope[Any]
    event_id: str


# What became of an event in its transaction: an outcome, and the reason when dead-lettered.
_Result = tuple[str, str | None]


class EventConsumer:
    def __init__(
        self,
        service: str,
        unit_of_work: UnitOfWorkFactory,
        publish: PublishFn,
        telemetry: Telemetry,
        metrics: Metrics,
        *,
        max_attempts: int = 3,
        retry_wait: float = 0.2,
        workers: int = 1,
        settings: ServiceSettings,
        batch_size: int = BATCH_SIZE,
        batch_wait_ms: int = BATCH_WAIT_MS,
        transaction_size: int = TRANSACTION_SIZE,
    ) -> None:
        self.service = service
        # The service's settings, for handlers that need them (``settings_as(…, Settings)``).
        self.settings = settings
        self.unit_of_work = unit_of_work
        self.publish = publish
        self.telemetry = telemetry
        self.metrics = metrics
        self.max_attempts = max_attempts
        self.workers = workers
        self.retry_wait = retry_wait
        self.batch_size = batch_size
        self.batch_wait_ms = batch_wait_ms
        self.transaction_size = transaction_size
        self.dead_letter_topic = dead_letter_topic(service)
        self._handlers: dict[str, Registration] = {}

    def on(
        self, model: type[E]
    ) -> Callable[[Callable[[TypedEnvelope[E], UnitOfWork], Awaitable[None]]], Handler]:
        def register(
            handler: Callable[[TypedEnvelope[E], UnitOfWork], Awaitable[None]],
        ) -> Handler:
            if model.event_type in self._handlers:
                raise ValueError(f"{model.event_type} already has a handler in {self.service}")
            self._handlers[model.event_type] = Registration(model, handler)
            return handler

        return register

    @property
    def topics(self) -> list[str]:
        return sorted({reg.model.topic for reg in self._handlers.values()})

    def attach(self, broker: KafkaBroker) -> None:
        """One batch subscriber per topic, in this service's consumer group, committing the
        offsets after the batch's work (and rewinding them when it fails)."""
        for topic in self.topics:
            handled = sorted(t for t, r in self._handlers.items() if r.model.topic == topic)
            # One Kafka consumer per topic: FastStream ignores max_workers for a batch
            # subscriber, and several subscribers of one group in a process would start one
            # after another, each start a rebalance. The batch's partitions are handled side
            # by side instead (process_batch).
            broker.subscriber(
                topic,
                batch=True,
                max_records=self.batch_size,
                batch_timeout_ms=self.batch_wait_ms,
                group_id=self.service,
                ack_policy=AckPolicy.NACK_ON_ERROR,
                auto_offset_reset="earliest",
                decoder=_deliveries,
                title=f"{self.service}:{topic}",
                description="Handles " + ", ".join(handled),
            )(self._entry(topic))

    def _entry(self, topic: str) -> Callable[[Any], Awaitable[None]]:
        async def entry(batch: Any) -> None:
            assert isinstance(batch, Batch)
            await self.process_batch(batch.deliveries, topic)

        return entry

    async def process(
        self, body: bytes, headers: Mapping[str, str], topic: str, partition: int, offset: int
    ) -> str:
        """Process one message; returns the outcome (see ``process_batch``)."""
        (outcome,) = await self.process_batch(
            [Delivery(body, dict(headers), partition, offset)], topic
        )
        return outcome

    async def process_batch(self, deliveries: Sequence[Delivery], topic: str) -> list[str]:
        """Process a batch of ``topic``'s records; returns each one's outcome ("handled",
        "duplicate", "dead_lettered" or "ignored"), in the batch's order. Raises only for
        infrastructure trouble, after a pause, so the batch is redelivered rather than lost."""
        by_partition: dict[int, list[int]] = {}
        for index, delivery in enumerate(deliveries):
            by_partition.setdefault(delivery.partition, []).append(index)
        outcomes = ["ignored"] * len(deliveries)
        if len(by_partition) <= 1 or self.workers <= 1:
            runs = [self._process_in_order(deliveries, range(len(deliveries)), topic, outcomes)]
        else:
            # Partitions side by side (each one's records in order, in its own transactions).
            slots = asyncio.Semaphore(self.workers)

            async def partition(indexes: list[int]) -> None:
                async with slots:
                    await self._process_in_order(deliveries, indexes, topic, outcomes)

            runs = [partition(indexes) for indexes in by_partition.values()]
        failures = [r for r in await asyncio.gather(*runs, return_exceptions=True) if r is not None]
        if failures:
            # What other partitions committed is absorbed as duplicates on redelivery.
            if any(_infrastructure(f) for f in failures):
                await asyncio.sleep(self.retry_wait * 5)  # not the messages' fault: back off
            raise failures[0]
        return outcomes

    async def _process_in_order(
        self,
        deliveries: Sequence[Delivery],
        indexes: Sequence[int],
        topic: str,
        outcomes: list[str],
    ) -> None:
        """Records (of one partition, or handled in order anyway) in transactions of up to
        ``transaction_size`` events; fills in their outcomes."""
        parked: dict[int, str] = {}
        events: list[_Event] = []
        for index in indexes:
            try:
                event = self._event(index, deliveries[index])
            except PoisonMessage as poison:
                parked[index] = poison.reason
                continue
            if event is not None:  # else another consumer's event on a shared topic: ignored
                events.append(event)
        for start in range(0, len(events), self.transaction_size):
            chunk = events[start : start + self.transaction_size]
            for event, (outcome, reason) in zip(
                chunk, await self._handle(chunk, topic), strict=True
            ):
                outcomes[event.index] = outcome
                if reason is not None:
                    parked[event.index] = reason
                else:
                    self.metrics.events_consumed.labels(event.typed.type, outcome).inc()
        # Parked once the others are committed: a transaction that fails parks nothing.
        for index in sorted(parked):
            d = deliveries[index]
            await self._dead_letter(d.body, d.headers, topic, d.partition, d.offset, parked[index])
            outcomes[index] = "dead_lettered"

    def _event(self, index: int, delivery: Delivery) -> _Event | None:
        envelope = _parse(delivery.body)
        registration = self._handlers.get(envelope.type)
        if registration is None:
            return None
        try:
            typed = TypedEnvelope[registration.model](  # type: ignore[name-defined]
                **envelope.model_dump(exclude={"data"}),
                data=registration.model.model_validate(envelope.data),
            )
        except ValidationError as exc:
            raise PoisonMessage(
                f"invalid {envelope.type} payload: "
                + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            ) from exc
        return _Event(index, delivery, registration, typed, str(typed.event_id))

    async def _handle(self, events: Sequence[_Event], topic: str) -> list[_Result]:
        """The events in one transaction; one at a time if the transaction as a whole fails
        for a reason of its own (a savepoint cannot contain, e.g. at commit)."""
        if len(events) == 1:
            return [await self._alone(events[0], topic)]
        try:
            return await self._transaction(events, topic)
        except Exception as exc:
            if _infrastructure(exc):
                raise
            log.warning(
                "a batch of %d events failed (%s): one event per transaction",
                len(events),
                type(exc).__name__,
            )
        return [await self._alone(event, topic) for event in events]

    async def _alone(self, event: _Event, topic: str) -> _Result:
        for attempt in range(1, self.max_attempts + 1):
            try:
                (result,) = await self._transaction([event], topic)
            except Exception as exc:
                if _infrastructure(exc):
                    raise
                if attempt == self.max_attempts:
                    reason = f"handler failed {self.max_attempts} times: {type(exc).__name__}"
                    log.warning("event %s dead-lettered: %s", event.event_id, reason)
                    return "dead_lettered", reason
                await asyncio.sleep(self._backoff(attempt))
            else:
                return result
        raise AssertionError("unreachable: the last attempt returns")

    async def _transaction(self, events: Sequence[_Event], topic: str) -> list[_Result]:
        results: list[_Result] = []
        try:
            async with self.unit_of_work.batch() as batch:
                claimed = await self._claim(batch.conn, events)
                failed: list[str] = []
                for event in events:
                    if event.event_id not in claimed:
                        results.append(("duplicate", None))
                        continue
                    claimed.discard(event.event_id)  # a second copy in the batch: duplicate
                    reason = await self._run(batch, event, topic)
                    if reason is None:
                        results.append(("handled", None))
                    else:
                        results.append(("dead_lettered", reason))
                        failed.append(event.event_id)
                if failed:
                    await batch.conn.execute(
                        UNMARK_PROCESSED, {"consumer": self.service, "event_ids": failed}
                    )
        except Exception as exc:
            if _infrastructure(exc) and not isinstance(exc, InfrastructureError):
                raise InfrastructureError(type(exc).__name__) from exc
            raise
        return results

    async def _claim(self, conn: AsyncConnection, events: Sequence[_Event]) -> set[str]:
        types = {event.event_id: event.typed.type for event in events}
        new = await conn.execute(
            MARK_PROCESSED,
            {
                "consumer": self.service,
                "event_ids": list(types),
                "types": list(types.values()),
            },
        )
        return {str(event_id) for event_id in new.scalars()}

    async def _run(self, batch: BatchOfWork, event: _Event, topic: str) -> str | None:
        """The event's handler in a savepoint, retried; None when it succeeded, else why not.
        Raises InfrastructureError when the database is unreachable."""
        typed = event.typed
        with (
            self.telemetry.consumer_span(f"{topic} process {typed.type}", event.delivery.headers),
            correlation.causality(typed.correlation_id, causation_id=event.event_id),
        ):
            for attempt in range(1, self.max_attempts + 1):
                try:
                    async with batch.savepoint() as uow:
                        await event.registration.handler(typed, uow)
                except Exception as exc:
                    if _infrastructure(exc):
                        raise InfrastructureError(type(exc).__name__) from exc
                    if attempt == self.max_attempts:
                        reason = f"handler failed {self.max_attempts} times: {type(exc).__name__}"
                        log.warning("event %s dead-lettered: %s", event.event_id, reason)
                        return reason
                    await asyncio.sleep(self._backoff(attempt))
                else:
                    return None
        raise AssertionError("unreachable: the last attempt returns")

    def _backoff(self, attempt: int) -> float:
        return float(min(self.retry_wait * 2 ** (attempt - 1), 5.0))

    async def _dead_letter(
        self,
        body: bytes,
        headers: Mapping[str, str],
        topic: str,
        partition: int,
        offset: int,
        reason: str,
    ) -> None:
        dlq_headers = {
            **{k: v for k, v in headers.items() if k in ("traceparent", "tracestate", "event_id")},
            "dlq_reason": reason[:500],
            "dlq_source_topic": topic,
            "dlq_source_partition": str(partition),
            "dlq_source_offset": str(offset),
            "dlq_consumer": self.service,
        }
        await self.publish(self.dead_letter_topic, f"{topic}:{partition}", body, dlq_headers)
        self.metrics.events_consumed.labels(
            headers.get("event_type", "unknown"), "dead_lettered"
        ).inc()
        log.warning(
            "message parked on %s (from %s/%d@%d)", self.dead_letter_topic, topic, partition, offset
        )


def _parse(body: bytes) -> EventEnvelope:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoisonMessage(f"not JSON: {type(exc).__name__}") from exc
    try:
        return EventEnvelope.model_validate(data)
    except ValidationError as exc:
        raise PoisonMessage(
            "not an event envelope: "
            + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        ) from exc


@dataclass(frozen=True)
class Batch:
    """The records of one poll (not a list: the FastAPI integration would take a list for a
    request body and look for the handler's argument elsewhere)."""

    deliveries: tuple[Delivery, ...]


def _deliveries(msg: RawKafkaMessage) -> Batch:
    # The decoder hands the records over undecoded, so a poison message reaches process_batch.
    records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
    return Batch(
        tuple(
            Delivery(record.value or b"", _headers(record.headers), record.partition, record.offset)
            for record in records
        )
    )


def _headers(headers: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    return {k: v.decode(errors="replace") if isinstance(v, bytes) else str(v) for k, v in headers}


__all__ = ["Delivery", "EventConsumer", "InfrastructureError", "PoisonMessage"]
