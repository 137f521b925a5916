"""The sender worker: claims due messages and sends them through the SMS provider (NT-1..NT-4).

Every replica runs one. It claims due messages in batches with one statement (``FOR UPDATE
SKIP LOCKED``, marked ``sending`` with this replica's name and a lease), so two replicas never
hold the same message; a claim whose lease ran out belongs to a replica that died and is taken
over. For each batch it asks identity, in one call with its own token, where to send (a number,
"protected" or none): no number is kept here (ID-3, docs/decisions/0002), and while identity
cannot answer, nothing is sent and the batch waits. A takeover may repeat a send whose outcome was never recorded: the provider's
``Idempotency-Key`` (the message id) turns that into a replay of the first reply, not a second
SMS.

Up to ``sender_concurrency`` sends run at once. Their outcomes are written in batches by one
recorder (one statement for whatever finished meanwhile), so a burst costs few transactions and
never takes the connections the event handlers need. Handlers NOTIFY when they commit a message
that is due now, which wakes the sender of every replica at once; a slow poll finds the rest
(retries, reminders coming due, leases running out).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from opentelemetry import propagate, trace
from prometheus_client import Counter

from vaccinera_kit.app import Service
from vaccinera_kit.database import Database, listen
from vaccinera_kit.sealed import Opener, SealError
from vaccinera_kit.service_token import ServiceToken
from vaccinera_kit.telemetry import current_trace_headers
from vaccinera_notifications import domain, store
from vaccinera_notifications.identity import (
    IdentityRecipients,
    Recipients,
    RecipientsUnavailable,
)
from vaccinera_notifications.provider import Accepted, SmsProvider
from vaccinera_notifications.settings import Settings
from vaccinera_notifications.store import Claimed, Outcome

log = logging.getLogger("vaccinera.notifications.sender")

# At most this many outcomes in one recording statement.
RECORD_BATCH = 500


class Sender:
    def __init__(
        self,
        service: Service,
        settings: Settings,
        provider: SmsProvider | None = None,
        recipients: Recipients | None = None,
    ) -> None:
        self.db = service.db
        self.settings = settings
        self.tracer = service.telemetry.tracer
        self.provider = provider or SmsProvider(
            settings.sms_provider_url,
            sender=settings.sms_sender,
            timeout=settings.sms_timeout_seconds,
        )
        # Where to send: identity, asked for each claimed batch (no number is kept here).
        self.recipients = recipients or identity_recipients(settings)
        # Opens the manage code of a confirmation, into the provider request only (issue 9).
        key_file = settings.manage_code_private_key_file
        self.opener = Opener.from_file(key_file) if key_file is not None else None
        self.owner = f"{settings.service_name}-{uuid.uuid4()}"
        self.lease = timedelta(seconds=settings.sender_lease_seconds)
        self.contact_wait = timedelta(seconds=settings.contact_wait_seconds)
        self.recorder = Recorder(self.db, self.owner)
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._sends: set[asyncio.Task[None]] = set()
        self.outcomes = Counter(
            "vaccinera_sms_messages",
            "Text messages by kind and outcome: sent, failed, withdrawn, skipped, or retry "
            "(one per failed attempt that will be tried again)",
            ["kind", "outcome"],
            registry=service.metrics.registry,
        )

    def start(self) -> None:
        self.recorder.start()
        self._tasks = [
            asyncio.create_task(self._run(), name=f"sms-sender-{self.owner}"),
            asyncio.create_task(
                listen(self.db, store.DUE_CHANNEL, self._wake.set), name="sms-sender-listen"
            ),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        # Let sends in flight finish briefly; an unfinished one is taken over after its lease.
        if self._sends:
            _, pending = await asyncio.wait(self._sends, timeout=5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self.recorder.stop()
        await self.provider.close()
        await self.recipients.close()

    async def _run(self) -> None:
        while True:
            if len(self._sends) >= self.settings.sender_concurrency:
                await asyncio.wait(self._sends, return_when=asyncio.FIRST_COMPLETED)
                continue
            # Cleared before looking, so a commit during the look is not missed.
            self._wake.clear()
            free = self.settings.sender_concurrency - len(self._sends)
            try:
                claimed = await self.claim(free)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the worker must outlive any one bad round
                log.warning("sender: claiming failed (%s), retrying", type(exc).__name__)
                claimed = 0
            if claimed == free:
                continue  # probably more due: claim again as soon as a slot is free
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.sender_poll_interval)

    async def claim(self, limit: int) -> int:
        """Claim up to ``limit`` due messages, ask identity where to send them (one call for
        the batch) and start sending; returns how many were claimed."""
        async with self.db.engine.begin() as conn:
            batch = await store.claim(conn, self.owner, self.lease, limit)
        if not batch:
            return 0
        try:
            contacts = await self.recipients.lookup(
                sorted({claimed.message.patient_id for claimed in batch})
            )
        except RecipientsUnavailable as exc:
            await self._postpone(batch, str(exc))
            return len(batch)
        for claimed in batch:
            contact = contacts.get(claimed.message.patient_id)
            task = asyncio.create_task(
                self._deliver(claimed, contact), name=f"sms-{claimed.message.message_id}"
            )
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)
        return len(batch)

    async def _postpone(self, batch: list[Claimed], reason: str) -> None:
        """Identity could not say where to send: the batch waits a little, no attempt counted
        (nothing was sent, and no message is sent without identity's answer)."""
        log.warning("sender: %d messages wait, where to send is unknown (%s)", len(batch), reason)
        until = datetime.now(UTC) + domain.backoff(
            1,
            base=self.settings.sender_backoff_seconds,
            cap=self.settings.sender_backoff_max_seconds,
        )
        await asyncio.gather(
            *(
                self.recorder.record(
                    store.postpone(c.message.message_id, until, "identity unavailable")
                )
                for c in batch
            ),
            return_exceptions=True,
        )

    async def _deliver(self, claimed: Claimed, contact: domain.Contact | None) -> None:
        message = claimed.message
        try:
            outcome, label = await self._attempt(claimed, contact)
            if await self.recorder.record(outcome) and label is not None:
                self.outcomes.labels(message.kind, label).inc()
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

    async def _attempt(
        self, claimed: Claimed, contact: domain.Contact | None
    ) -> tuple[Outcome, str | None]:
        """Decide, send if so decided, and say what to record (and the metric's label)."""
        message = claimed.message
        decision = domain.decide(
            message,
            contact,
            claimed.booking,
            now=datetime.now(UTC),
            contact_wait=self.contact_wait,
        )
        if isinstance(decision, domain.Wait):
            return store.release(message.message_id, decision.until), None
        if isinstance(decision, domain.Withdraw):
            return store.ended(message.message_id, "withdrawn", decision.reason), "withdrawn"
        if isinstance(decision, domain.Skip):
            return store.ended(message.message_id, "skipped", decision.reason), "skipped"

        try:
            text = self._compose(message)
        except SealError as exc:
            log.warning(
                "sender: message %s: its manage code does not open here (%s)",
                message.message_id,
                exc,
            )
            reason = "manage code could not be opened"
            return store.ended(message.message_id, "failed", reason), "failed"

        parent = propagate.extract(claimed.trace)
        with self.tracer.start_as_current_span(
            "sms send", context=parent, kind=trace.SpanKind.CLIENT
        ) as span:
            span.set_attribute("vaccinera.message.kind", message.kind)
            span.set_attribute("vaccinera.message.attempt", claimed.attempt)
            outcome = await self.provider.send(
                to=decision.to,
                text=text,
                reference=message.message_id,
                idempotency_key=message.message_id,
                headers=current_trace_headers(),
            )
        done = datetime.now(UTC)
        if isinstance(outcome, Accepted):
            return store.sent(message.message_id, outcome.provider_message_id, done), "sent"
        again = domain.retry_at(
            claimed.attempt,
            transient=outcome.transient,
            max_attempts=self.settings.sender_max_attempts,
            now=done,
            base=self.settings.sender_backoff_seconds,
            cap=self.settings.sender_backoff_max_seconds,
        )
        if again is None:
            log.warning(
                "sender: message %s failed after %d attempts: %s",
                message.message_id,
                claimed.attempt,
                outcome.reason,
            )
            return store.ended(message.message_id, "failed", outcome.reason), "failed"
        log.info(
            "sender: message %s attempt %d: %s; next try in %.1fs",
            message.message_id,
            claimed.attempt,
            outcome.reason,
            (again - done).total_seconds(),
        )
        return store.retry(message.message_id, again, outcome.reason), "retry"

    def _compose(self, message: domain.Message) -> str:
        """The text as the patient receives it: a confirmation's sealed code opened and put in
        its place. It lives only in the request to the provider, never in a row or a log."""
        if message.sealed_code is None:
            return message.text
        if self.opener is None:
            raise SealError("no key to open manage codes is configured")
        code = self.opener.open(message.sealed_code, context=message.booking_id)
        return domain.compose(message.text, code)


def identity_recipients(settings: Settings) -> IdentityRecipients:
    """Identity, asked with this service's own token (client credentials)."""
    if settings.token_url is None or settings.client_secret_file is None:
        raise RuntimeError(
            "the SMS sender asks identity where to send: it needs VACCINERA_TOKEN_URL and "
            "VACCINERA_CLIENT_SECRET_FILE (this service's client credentials)"
        )
    http = httpx.AsyncClient(
        base_url=settings.identity_url,
        timeout=settings.identity_timeout_seconds,
        limits=httpx.Limits(max_connections=8, max_keepalive_connections=8),
    )
    token = ServiceToken(
        http,
        token_url=settings.token_url,
        client_id=settings.service_name,
        secret_file=settings.client_secret_file,
    )
    return IdentityRecipients(http, token)


class Recorder:
    """Writes outcomes in batches: whatever finished while the previous batch was being
    written goes in the next statement. ``record`` returns once its outcome is committed."""

    def __init__(self, db: Database, owner: str) -> None:
        self.db = db
        self.owner = owner
        self._queue: asyncio.Queue[tuple[Outcome, asyncio.Future[bool]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"sms-recorder-{self.owner}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # Whatever is still queued keeps its claim and is taken over after the lease.
        while not self._queue.empty():
            _, future = self._queue.get_nowait()
            future.cancel()

    async def record(self, outcome: Outcome) -> bool:
        """True when written; False when this sender no longer held the claim."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        await self._queue.put((outcome, future))
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < RECORD_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                async with self.db.engine.begin() as conn:
                    written = await store.record(conn, self.owner, [o for o, _ in batch])
            except asyncio.CancelledError:
                for _, future in batch:
                    future.cancel()
                raise
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for outcome, future in batch:
                if not future.done():
                    future.set_result(outcome.message_id in written)
