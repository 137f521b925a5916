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
import orjson

from vaccinera_kit.unit_of_work import UnitOfWorkFactory
from vaccinera_registry_export.domain import (
    DOSE_VERSION_SYSTEM,
    Failed,
    InvalidResource,
    Outcome,
    Retry,
    bundle_entry,
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
    # Reports per FHIR batch Bundle; 1: each on its own (NPÖ, as it happens).
    bundle_size: int = 1
    # Batches in flight at once when draining (a run).
    parallel: int = 1

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

    async def _send_bundle(self, reports: list[tuple[Claimed, bytes]]) -> list[Outcome]:
        """Reports as one FHIR ``batch`` Bundle; the receiver answers each entry on its own.
        Each entry is a conditional create on its dose version (the receiver's idempotency)."""
        bundle = b"".join(
            (
                b'{"resourceType":"Bundle","type":"batch","entry":[',
                b",".join(entry for _, entry in reports),
                b"]}",
            )
        )
        try:
            r = await self.client.post(
                self.url, content=bundle, headers={"content-type": "application/fhir+json"}
            )
        except httpx.HTTPError as exc:
            return [Retry(f"no answer: {type(exc).__name__}")] * len(reports)
        try:
            body = orjson.loads(r.content)
        except orjson.JSONDecodeError:
            body = r.text
        answered = body.get("entry") if isinstance(body, dict) else None
        if r.status_code >= 300 or not isinstance(answered, list) or len(answered) != len(reports):
            whole = judge(r.status_code if r.status_code >= 300 else 502, body)
            return [whole] * len(reports)
        outcomes: list[Outcome] = []
        for entry in answered:
            response = entry.get("response", {}) if isinstance(entry, dict) else {}
            status = int(str(response.get("status", "502")).split()[0])
            location = str(response.get("location", ""))
            ref = location.split("/")[1] if location.count("/") >= 1 else None
            outcomes.append(judge(status, response.get("outcome") or {"id": ref}))
        return outcomes

    async def _send_all(self, claimed: list[Claimed]) -> list[Outcome]:
        gate = asyncio.Semaphore(self.concurrency)
        if self.bundle_size <= 1:

            async def one(report: Claimed) -> Outcome:
                async with gate:
                    return await self._send(report)

            return list(await asyncio.gather(*map(one, claimed)))
        outcomes: dict[int, Outcome] = {}
        valid: list[tuple[Claimed, bytes]] = []
        for report in claimed:
            try:
                valid.append((report, bundle_entry(report.dose, self.reserve_number_system)))
            except InvalidResource as exc:
                outcomes[report.report_id] = Failed(f"not sent, the resource is invalid: {exc}")
        bundles = [valid[i : i + self.bundle_size] for i in range(0, len(valid), self.bundle_size)]

        async def send(bundle: list[tuple[Claimed, bytes]]) -> None:
            async with gate:
                answers = await self._send_bundle(bundle)
            for (report, _), outcome in zip(bundle, answers, strict=True):
                outcomes[report.report_id] = outcome

        await asyncio.gather(*map(send, bundles))
        return [outcomes[c.report_id] for c in claimed]

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
            outcomes = await self._send_all(claimed)
            await reports.settle_all(list(zip(claimed, outcomes, strict=True)), now())
            for report, outcome in zip(claimed, outcomes, strict=True):
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
        """Batches until nothing is due, ``parallel`` at a time: while one batch's Bundles
        are with the receiver, the next is claimed and built (each batch is a transaction of
        its own, and SKIP LOCKED keeps them apart)."""
        total = Tally()

        async def worker() -> None:
            while (tally := await self.batch(retries_only=retries_only)) is not None:
                total.sent += tally.sent
                total.retried += tally.retried
                total.failed += tally.failed
                if progress is not None:
                    await progress(total)
                if tally.settled == 0:  # only retries: they are due later, not now
                    return

        await asyncio.gather(*(worker() for _ in range(self.parallel)))
        return total
