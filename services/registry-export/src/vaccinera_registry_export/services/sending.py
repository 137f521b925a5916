"""Sending reports to a receiver (RX-1, RX-2, RX-5): claim a batch of due reports in one
transaction, send each as a validated FHIR ``Immunization``, record each answer, commit.

Exactly once per version: the ledger sends a version only while its report is pending and
holds the report's row lock while sending, so two replicas never send the same report at once;
an acknowledged report is never claimed again. If the sender dies after the receiver took a
report but before the commit, the report is sent again with the same idempotency key
(``Idempotency-Key`` and FHIR conditional create on the dose version's identifier), and the
receiver answers with what it already holds: the receiver's idempotency is the second line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from vaccinera_kit.unit_of_work import UnitOfWorkFactory
from vaccinera_registry_export.domain import (
    DOSE_VERSION_SYSTEM,
    Failed,
    InvalidResource,
    Outcome,
    Retry,
    immunization,
    judge,
    version_key,
)
from vaccinera_registry_export.store import Claimed, Reports

log = logging.getLogger("vaccinera.registry-export")


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Tally:
    sent: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def settled(self) -> int:
        return self.sent + self.failed


@dataclass
class Sender:
    """Sends one receiver's reports."""

    receiver: str
    url: str
    client: httpx.AsyncClient
    unit_of_work: UnitOfWorkFactory
    reserve_number_system: str
    batch_size: int
    concurrency: int

    async def _send(self, claimed: Claimed) -> Outcome:
        try:
            resource = immunization(claimed.dose, self.reserve_number_system)
        except InvalidResource as exc:
            return Failed(f"not sent, the resource is invalid: {exc}")
        key = version_key(claimed.dose)
        try:
            r = await self.client.post(
                f"{self.url}/Immunization",
                json=resource,
                headers={
                    "Idempotency-Key": key,
                    "If-None-Exist": f"identifier={DOSE_VERSION_SYSTEM}|{key}",
                    "content-type": "application/fhir+json",
                },
            )
        except httpx.HTTPError as exc:
            return Retry(f"no answer: {type(exc).__name__}")
        try:
            body = r.json()
        except ValueError:
            body = r.text
        return judge(r.status_code, body)

    async def batch(self, *, retries_only: bool = False) -> Tally | None:
        """One batch: claimed, sent, settled and committed together. None: nothing was due."""
        tally = Tally()
        async with self.unit_of_work() as uow:
            reports = Reports(uow.conn)
            claimed = await reports.claim(
                self.receiver, now(), self.batch_size, retries_only=retries_only
            )
            if not claimed:
                return None
            gate = asyncio.Semaphore(self.concurrency)

            async def one(report: Claimed) -> Outcome:
                async with gate:
                    return await self._send(report)

            outcomes = await asyncio.gather(*map(one, claimed))
            moment = now()
            for report, outcome in zip(claimed, outcomes, strict=True):
                await reports.settle(report, outcome, moment)
                if isinstance(outcome, Retry):
                    tally.retried += 1
                elif isinstance(outcome, Failed):
                    tally.failed += 1
                    # The reason stays in the ledger, for the operator: it may quote the patient.
                    log.warning(
                        "report %s to %s refused (%s)",
                        report.report_id,
                        self.receiver,
                        outcome.status,
                    )
                else:
                    tally.sent += 1
        return tally

    async def drain(
        self,
        *,
        retries_only: bool = False,
        progress: Callable[[Tally], Awaitable[None]] | None = None,
    ) -> Tally:
        """Batches until nothing is due."""
        total = Tally()
        while (tally := await self.batch(retries_only=retries_only)) is not None:
            total.sent += tally.sent
            total.retried += tally.retried
            total.failed += tally.failed
            if progress is not None:
                await progress(total)
            if tally.settled == 0:  # only retries: they are due later, not now
                break
        return total
