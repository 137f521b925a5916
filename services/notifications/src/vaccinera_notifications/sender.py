"""The sender worker: claims due messages and sends them through the SMS provider (NT-1..NT-4).

Every replica runs one. A message is claimed with a compare-and-set on its state
(``scheduled`` and due → ``sending`` with this replica's name and a lease), so two replicas
never send it side by side; a claim whose lease ran out belongs to a replica that died and is
taken over. A takeover may repeat a send whose outcome was never recorded: the provider's
``Idempotency-Key`` (the message id) turns that into a replay of the first reply, not a second
SMS. Up to ``sender_concurrency`` sends run at once; handlers wake the loop when they insert a
message that is due now, and polling catches the rest (other replicas' inserts, retries,
reminders coming due).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry import propagate, trace
from prometheus_client import Counter
from pymongo.errors import PyMongoError

from vaccinera_kit.app import Service
from vaccinera_kit.telemetry import current_trace_headers
from vaccinera_notifications import domain
from vaccinera_notifications.provider import Accepted, SmsProvider
from vaccinera_notifications.settings import Settings
from vaccinera_notifications.store import (
    BookingProjection,
    Claimed,
    ContactProjection,
    MessageStore,
)

log = logging.getLogger("vaccinera.notifications.sender")


class Sender:
    def __init__(
        self,
        service: Service,
        settings: Settings,
        wakeup: asyncio.Event,
        provider: SmsProvider | None = None,
    ) -> None:
        self.settings = settings
        self.tracer = service.telemetry.tracer
        self.messages = MessageStore(service.db)
        self.contacts = ContactProjection(service.db)
        self.bookings = BookingProjection(service.db)
        self.provider = provider or SmsProvider(
            settings.sms_provider_url,
            sender=settings.sms_sender,
            timeout=settings.sms_timeout_seconds,
        )
        self.owner = f"{settings.service_name}-{uuid.uuid4()}"
        self.lease = timedelta(seconds=settings.sender_lease_seconds)
        self.contact_wait = timedelta(seconds=settings.contact_wait_seconds)
        self._wakeup = wakeup
        self._task: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        self.outcomes = Counter(
            "vaccinera_sms_messages",
            "Text messages by kind and outcome: sent, failed, withdrawn, skipped, or retry "
            "(one per failed attempt that will be tried again)",
            ["kind", "outcome"],
            registry=service.metrics.registry,
        )

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"sms-sender-{self.owner}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # Let sends in flight finish briefly; an unfinished one is taken over after its lease.
        if self._sends:
            _, pending = await asyncio.wait(self._sends, timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.provider.close()

    async def _run(self) -> None:
        while True:
            if len(self._sends) >= self.settings.sender_concurrency:
                await asyncio.wait(self._sends, return_when=asyncio.FIRST_COMPLETED)
                continue
            # Cleared before looking, so an insert during the look is not missed.
            self._wakeup.clear()
            free = self.settings.sender_concurrency - len(self._sends)
            try:
                claimed = await self._claim(free)
            except PyMongoError as exc:
                log.warning("sender: database unavailable (%s), retrying", type(exc).__name__)
                claimed = 0
            except Exception as exc:  # the worker must outlive any one bad round
                log.warning("sender: claiming failed (%s), retrying", type(exc).__name__)
                claimed = 0
            if claimed == free:
                continue  # probably more due: claim again as soon as a slot is free
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self.settings.sender_poll_interval)

    async def _claim(self, free: int) -> int:
        """Claim up to ``free`` due messages and start sending them; returns how many."""
        now = datetime.now(UTC)
        # One read for the candidates; each claim is then a write by id (no scan under the lock).
        claimed = 0
        for message_id in await self.messages.due(now, free):
            taken = await self.messages.claim(message_id, self.owner, now, self.lease)
            if taken is None:
                continue  # another replica took it
            claimed += 1
            task = asyncio.create_task(self._deliver(taken), name=f"sms-{taken.message.message_id}")
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)
        return claimed

    async def _deliver(self, claimed: Claimed) -> None:
        message = claimed.message
        try:
            await self._attempt(claimed)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The claim stays; after its lease the message is tried again.
            log.warning(
                "sender: message %s attempt %d broke (%s)",
                message.message_id,
                claimed.attempt,
                type(exc).__name__,
            )

    async def _attempt(self, claimed: Claimed) -> None:
        message = claimed.message
        now = datetime.now(UTC)
        contact = await self.contacts.contact(message.patient_id)
        booking = (
            await self.bookings.get(message.booking_id) if message.kind == "reminder" else None
        )
        decision = domain.decide(message, contact, booking, now=now, contact_wait=self.contact_wait)
        if isinstance(decision, domain.Wait):
            await self.messages.release(message.message_id, self.owner, decision.until)
            return
        if isinstance(decision, domain.Withdraw | domain.Skip):
            status = "withdrawn" if isinstance(decision, domain.Withdraw) else "skipped"
            await self._finish(message, status, {"last_error": decision.reason})
            return

        parent = propagate.extract(claimed.trace)
        with self.tracer.start_as_current_span(
            "sms send", context=parent, kind=trace.SpanKind.CLIENT
        ) as span:
            span.set_attribute("vaccinera.message.kind", message.kind)
            span.set_attribute("vaccinera.message.attempt", claimed.attempt)
            outcome = await self.provider.send(
                to=decision.to,
                text=message.text,
                reference=message.message_id,
                idempotency_key=message.message_id,
                headers=current_trace_headers(),
            )
        done = datetime.now(UTC)
        if isinstance(outcome, Accepted):
            await self._finish(
                message,
                "sent",
                {
                    "provider_message_id": outcome.provider_message_id,
                    "sent_at": done,
                    "last_error": None,
                },
            )
            return
        again = domain.retry_at(
            claimed.attempt,
            transient=outcome.transient,
            max_attempts=self.settings.sender_max_attempts,
            now=done,
            base=self.settings.sender_backoff_seconds,
            cap=self.settings.sender_backoff_max_seconds,
        )
        if again is None:
            await self._finish(message, "failed", {"last_error": outcome.reason})
            log.warning(
                "sender: message %s failed after %d attempts: %s",
                message.message_id,
                claimed.attempt,
                outcome.reason,
            )
            return
        await self.messages.finish(
            message.message_id,
            self.owner,
            {"status": "scheduled", "next_attempt_at": again, "last_error": outcome.reason},
        )
        self.outcomes.labels(message.kind, "retry").inc()
        log.info(
            "sender: message %s attempt %d: %s; next try in %.1fs",
            message.message_id,
            claimed.attempt,
            outcome.reason,
            (again - done).total_seconds(),
        )

    async def _finish(self, message: domain.Message, status: str, fields: dict[str, Any]) -> None:
        if await self.messages.finish(message.message_id, self.owner, {"status": status, **fields}):
            self.outcomes.labels(message.kind, status).inc()
