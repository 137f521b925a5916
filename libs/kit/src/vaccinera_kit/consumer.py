"""Idempotent event consumer with a dead-letter topic.

One FastStream subscriber per topic receives raw bytes, so a message that cannot even be parsed
still reaches this code and can be parked instead of blocking the partition. Handlers are typed
by the event models of ``vaccinera_contracts`` and get the unit of work they write in:

    @consumer.on(PatientRegistered)
    async def record_patient(event: TypedEnvelope[PatientRegistered], uow: UnitOfWork) -> None:
        ...

Exactly-once effect: the handler's writes and the row ``(consumer, event_id)`` in
``processed_events`` are one transaction. A redelivered event finds its row (the primary key
says no) and changes nothing; a replica racing for the same event waits on that key and then
sees it taken. Offsets are committed after processing.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage as RawKafkaMessage
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from tenacity import (
    AsyncRetrying,
    retry_if_not_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from vaccinera_contracts.envelope import DomainEvent, EventEnvelope, TypedEnvelope
from vaccinera_contracts.topics import dead_letter_topic
from vaccinera_kit import correlation
from vaccinera_kit.database import PROCESSED_EVENTS
from vaccinera_kit.metrics import Metrics
from vaccinera_kit.outbox import PublishFn
from vaccinera_kit.settings import ServiceSettings
from vaccinera_kit.telemetry import Telemetry
from vaccinera_kit.unit_of_work import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("vaccinera.consumer")

E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[TypedEnvelope[Any], UnitOfWork], Awaitable[None]]

MARK_PROCESSED = text(
    f"INSERT INTO {PROCESSED_EVENTS} (consumer, event_id, type) VALUES (:consumer, :event_id, "
    ":type) ON CONFLICT DO NOTHING RETURNING 1"
)


class InfrastructureError(Exception):
    """The database could not be reached: not the message's fault."""


def _infrastructure(exc: BaseException) -> bool:
    # Never dead-letter for these: back off and let the message be redelivered.
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
        """One subscriber per topic, in this service's consumer group, committing after work."""
        for topic in self.topics:
            handled = sorted(t for t, r in self._handlers.items() if r.model.topic == topic)

            broker.subscriber(
                topic,
                group_id=self.service,
                ack_policy=AckPolicy.NACK_ON_ERROR,
                auto_offset_reset="earliest",
                # Several consumers of the group in this process, partitions shared among
                # them: events of different partitions are handled side by side, one
                # partition's (one aggregate's) still in order.
                max_workers=self.workers,
                decoder=_delivery,
                title=f"{self.service}:{topic}",
                description="Handles " + ", ".join(handled),
            )(self._entry(topic))

    def _entry(self, topic: str) -> Callable[[Any], Awaitable[None]]:
        async def entry(delivery: Any) -> None:
            assert isinstance(delivery, Delivery)
            await self.process(
                delivery.body, delivery.headers, topic, delivery.partition, delivery.offset
            )

        return entry

    async def process(
        self, body: bytes, headers: Mapping[str, str], topic: str, partition: int, offset: int
    ) -> str:
        """Process one message; returns the outcome. Raises only for infrastructure trouble,
        so the message is redelivered rather than lost."""
        try:
            envelope = _parse(body)
        except PoisonMessage as poison:
            await self._dead_letter(body, headers, topic, partition, offset, poison.reason)
            return "dead_lettered"
        registration = self._handlers.get(envelope.type)
        if registration is None:
            return "ignored"  # another consumer's event on a shared topic
        event_id = str(envelope.event_id)
        try:
            typed = TypedEnvelope[registration.model](  # type: ignore[name-defined]
                **envelope.model_dump(exclude={"data"}),
                data=registration.model.model_validate(envelope.data),
            )
        except ValidationError as exc:
            reason = f"invalid {envelope.type} payload: " + "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            await self._dead_letter(body, headers, topic, partition, offset, reason)
            return "dead_lettered"

        with (
            self.telemetry.consumer_span(f"{topic} process {envelope.type}", headers),
            correlation.causality(envelope.correlation_id, causation_id=event_id),
        ):
            try:
                first_time = await self._run_with_retries(registration.handler, typed)
            except InfrastructureError:
                # Not the message's fault: back off, then let the message be redelivered.
                await asyncio.sleep(self.retry_wait * 5)
                raise
            except Exception as exc:
                reason = f"handler failed {self.max_attempts} times: {type(exc).__name__}"
                log.warning("event %s dead-lettered: %s", event_id, reason)
                await self._dead_letter(body, headers, topic, partition, offset, reason)
                return "dead_lettered"
        if not first_time:
            self.metrics.events_consumed.labels(envelope.type, "duplicate").inc()
            return "duplicate"
        self.metrics.events_consumed.labels(envelope.type, "handled").inc()
        return "handled"

    async def _run_with_retries(self, handler: Handler, typed: TypedEnvelope[Any]) -> bool:
        """Run the handler in its own transaction (again after a failure); False when the
        event had been processed before."""
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=wait_exponential(multiplier=self.retry_wait, max=5),
            retry=retry_if_not_exception_type(InfrastructureError),
            reraise=True,
        ):
            with attempt:
                try:
                    return await self._handle_once(handler, typed)
                except Exception as exc:
                    if _infrastructure(exc):
                        raise InfrastructureError(type(exc).__name__) from exc
                    raise
        raise AssertionError("unreachable: AsyncRetrying reraises")

    async def _handle_once(self, handler: Handler, typed: TypedEnvelope[Any]) -> bool:
        async with self.unit_of_work() as uow:
            first = await uow.conn.scalar(
                MARK_PROCESSED,
                {"consumer": self.service, "event_id": typed.event_id, "type": typed.type},
            )
            if first is None:
                return False
            await handler(typed, uow)
        return True

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
class Delivery:
    """One Kafka record as the kit needs it, before any parsing that could fail."""

    body: bytes
    headers: dict[str, str]
    partition: int
    offset: int


def _delivery(msg: RawKafkaMessage) -> Delivery:
    # The decoder hands the record over undecoded, so a poison message reaches process().
    record = msg.raw_message
    assert not isinstance(record, tuple)
    return Delivery(msg.body, _headers(msg.headers), record.partition, record.offset)


def _headers(headers: Mapping[str, Any]) -> dict[str, str]:
    return {k: v.decode() if isinstance(v, bytes) else str(v) for k, v in headers.items()}


__all__ = ["EventConsumer", "InfrastructureError", "PoisonMessage"]
