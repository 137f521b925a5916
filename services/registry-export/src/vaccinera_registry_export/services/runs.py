"""NVR runs (RX-1): nightly by default (``VACCINERA_NVR_INTERVAL_SECONDS``), or when a registry
operator asks; a run sends every NVR report due. NPÖ gets each dose as it happens (RX-2)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from vaccinera_kit.unit_of_work import UnitOfWorkFactory
from vaccinera_registry_export.services.sending import Sender, Tally, now
from vaccinera_registry_export.store import Runs

log = logging.getLogger("vaccinera.registry-export")


async def request_run(unit_of_work: UnitOfWorkFactory, receiver: str, by: str) -> int:
    async with unit_of_work() as uow:
        return await Runs(uow.conn).request(receiver, by, now())


async def run_due(
    sender: Sender,
    interval: timedelta,
    lease: timedelta,
    progress: Callable[[Tally], None] | None = None,
) -> Tally | None:
    """Start the run that is due (or take over one whose replica died), send everything due,
    and record it; schedule the next nightly run."""
    async with sender.unit_of_work() as uow:
        repository = Runs(uow.conn)
        await repository.schedule_next(sender.receiver, now(), interval)
        run = await repository.start_due(sender.receiver, now(), lease)
    if run is None:
        return None

    async def beat(tally: Tally) -> None:
        async with sender.unit_of_work() as uow:
            await Runs(uow.conn).heartbeat(run.run_id, now())
        if progress is not None:
            progress(tally)

    tally = await sender.drain(progress=beat)
    async with sender.unit_of_work() as uow:
        await Runs(uow.conn).finish(run.run_id, tally.sent, tally.failed, now())
        await Runs(uow.conn).schedule_next(sender.receiver, now(), interval)
    log.info("NVR run %s: %s sent, %s failed", run.run_id, tally.sent, tally.failed)
    return tally


class Loop:
    """A worker: ``step`` again and again, ``pause`` seconds apart when it found nothing."""

    def __init__(self, name: str, step: Callable[[], Awaitable[bool]], pause: float) -> None:
        self.name = name
        self.step = step
        self.pause = pause
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                busy = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the worker must outlive any one bad round
                log.warning("%s failed (%s), retrying", self.name, type(exc).__name__)
                busy = False
            if not busy:
                await asyncio.sleep(self.pause)
