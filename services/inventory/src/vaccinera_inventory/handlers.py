"""The inventory's event subscribers and its worker: each handler hands its event to one use
case, in the consumer's unit of work (its writes and the event's processed mark commit
together); ``WORKERS`` runs the periodic low-stock check in every replica.

An administration locks its batch, then the unit's low-stock level of that vaccine; every
other change of the stock does the same, in that order. Each event gets a transaction of its
own: in one transaction for many events, the locks of one administration would be held while
the next waits for another batch, in whatever order the events came, and two partitions
could wait on each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from vaccinera_contracts.envelope import TypedEnvelope
from vaccinera_contracts.events import AdministrationCorrected, DoseAdministered, VaccineRenamed
from vaccinera_inventory.services import administrations, levels, vaccines
from vaccinera_inventory.services.context import Context
from vaccinera_inventory.settings import Settings
from vaccinera_kit.app import Service, Worker
from vaccinera_kit.consumer import EventConsumer
from vaccinera_kit.unit_of_work import UnitOfWork

log = logging.getLogger("vaccinera.inventory")


def register(consumer: EventConsumer) -> None:
    consumer.transaction_size = 1

    @consumer.on(DoseAdministered)
    async def dose_administered(event: TypedEnvelope[DoseAdministered], uow: UnitOfWork) -> None:
        await administrations.dose_administered(uow, event.data)

    @consumer.on(AdministrationCorrected)
    async def administration_corrected(
        event: TypedEnvelope[AdministrationCorrected], uow: UnitOfWork
    ) -> None:
        await administrations.administration_corrected(uow, event.data)

    @consumer.on(VaccineRenamed)
    async def vaccine_renamed(event: TypedEnvelope[VaccineRenamed], uow: UnitOfWork) -> None:
        await vaccines.vaccine_renamed(uow, event.data)


class LowStockCheck:
    """Assesses every low-stock level now and then, so a unit whose stock reached its level
    by batches expiring (no change to trigger it) is warned too (IN-6). Replicas may run it
    at once: each level is assessed under its lock, so a crossing is published once."""

    def __init__(self, service: Service) -> None:
        self.ctx = Context(service.unit_of_work, service.db)
        self.interval = service.settings_as(Settings).low_stock_check_interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="low-stock-check")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await levels.reassess_all(self.ctx)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the worker must outlive any one bad round
                log.warning("low-stock check failed (%s), retrying", type(exc).__name__)


def low_stock_check(service: Service) -> Worker:
    return LowStockCheck(service)


WORKERS: tuple[Callable[[Service], Worker], ...] = (low_stock_check,)
