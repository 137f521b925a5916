"""The registry export's event subscribers and its workers.

Subscribers keep the ledger (each in the consumer's unit of work, which marks the event
processed: a redelivered event changes nothing): a given dose gets a report per receiver; a
new identifier (ID-4) a new version of each of the patient's doses; a dose entered by hand
goes to the control report only (JR-5, RX-3: never reported). They also keep what the
statistics for regional infection control need (RX-4): the register's birth date and
municipality of each patient (cleared when the patient becomes protected, ID-3), its counts,
the vaccines' names, and each batch's balance and movements per day (the inventory's events).

Workers, in every replica: the NPÖ pusher sends each dose as it happens (RX-2); the NVR worker
starts the nightly or requested run and retries what a run could not deliver (RX-1, RX-5).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import httpx

from vaccinera_contracts.envelope import TypedEnvelope
from vaccinera_contracts.events import (
    AdministrationCorrected,
    BatchCheckedIn,
    DoseAdministered,
    HistoricalDoseRecorded,
    IdentifierChanged,
    PatientRegistered,
    PopulationCounted,
    ProtectionChanged,
    StockChanged,
    VaccineRenamed,
)
from vaccinera_kit.app import Service, Worker
from vaccinera_kit.consumer import EventConsumer
from vaccinera_kit.unit_of_work import UnitOfWork, UnitOfWorkFactory
from vaccinera_registry_export.services.runs import Loop, run_due
from vaccinera_registry_export.services.sending import Sender, now
from vaccinera_registry_export.settings import Settings
from vaccinera_registry_export.store import ControlReport, Ledger, Statistics


def register(consumer: EventConsumer) -> None:
    # An event per transaction: each locks its patient (``Ledger``), and a transaction of many
    # events would hold one patient while waiting for another, in whatever order they came.
    consumer.transaction_size = 1

    @consumer.on(PatientRegistered)
    async def patient_registered(event: TypedEnvelope[PatientRegistered], uow: UnitOfWork) -> None:
        data = event.data
        await Ledger(uow.conn).identified(
            data.patient_id, data.identifier.value, data.identifier.kind.value, now(), changed=False
        )
        await Statistics(uow.conn).resident(
            data.patient_id, data.birth_date, None if data.protected else data.municipality_code
        )

    @consumer.on(IdentifierChanged)
    async def identifier_changed(event: TypedEnvelope[IdentifierChanged], uow: UnitOfWork) -> None:
        data = event.data
        await Ledger(uow.conn).identified(
            data.patient_id, data.new.value, data.new.kind.value, now(), changed=True
        )
        await Statistics(uow.conn).resident(
            data.patient_id, data.birth_date, data.municipality_code
        )

    @consumer.on(ProtectionChanged)
    async def protection_changed(event: TypedEnvelope[ProtectionChanged], uow: UnitOfWork) -> None:
        if event.data.protected:
            await Statistics(uow.conn).protected(event.data.patient_id)

    @consumer.on(PopulationCounted)
    async def population_counted(event: TypedEnvelope[PopulationCounted], uow: UnitOfWork) -> None:
        await Statistics(uow.conn).population_counted(event.data)

    @consumer.on(DoseAdministered)
    async def dose_administered(event: TypedEnvelope[DoseAdministered], uow: UnitOfWork) -> None:
        data = event.data
        await Ledger(uow.conn).given(data, now())
        statistics = Statistics(uow.conn)
        await statistics.placed(data.patient_id, administration_id=data.administration_id)
        await statistics.vaccine_named(data.vaccine_id, data.vaccine_name)

    @consumer.on(AdministrationCorrected)
    async def administration_corrected(
        event: TypedEnvelope[AdministrationCorrected], uow: UnitOfWork
    ) -> None:
        # RX-1: a corrected dose is reported again, as a new version.
        await Ledger(uow.conn).corrected(event.data, now())

    @consumer.on(HistoricalDoseRecorded)
    async def historical_dose(
        event: TypedEnvelope[HistoricalDoseRecorded], uow: UnitOfWork
    ) -> None:
        data = event.data
        await ControlReport(uow.conn).recorded(data)
        statistics = Statistics(uow.conn)
        await statistics.placed(data.patient_id, entry_id=data.historical_dose_id)
        await statistics.vaccine_named(data.vaccine_id, data.vaccine_name)

    @consumer.on(VaccineRenamed)
    async def vaccine_renamed(event: TypedEnvelope[VaccineRenamed], uow: UnitOfWork) -> None:
        data = event.data
        await Statistics(uow.conn).vaccine_renamed(data.vaccine_id, data.name, data.renamed_at)

    @consumer.on(BatchCheckedIn)
    async def batch_checked_in(event: TypedEnvelope[BatchCheckedIn], uow: UnitOfWork) -> None:
        await Statistics(uow.conn).checked_in(event.data)

    @consumer.on(StockChanged)
    async def stock_changed(event: TypedEnvelope[StockChanged], uow: UnitOfWork) -> None:
        await Statistics(uow.conn).stock_changed(event.data)


def make_senders(
    settings: Settings, unit_of_work: UnitOfWorkFactory, client: httpx.AsyncClient
) -> dict[str, Sender]:
    return {
        receiver: Sender(
            receiver,
            url.rstrip("/"),
            client,
            unit_of_work,
            settings.reserve_number_system,
            settings.batch_size,
            settings.concurrency,
            bundle_size,
            parallel,
        )
        for receiver, url, bundle_size, parallel in (
            ("nvr", settings.nvr_url, settings.nvr_bundle_size, settings.nvr_parallel_batches),
            ("npo", settings.npo_url, 1, 1),
        )
    }


class Exporter:
    """Both receivers' workers, sharing one HTTP client."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.settings = service.settings_as(Settings)
        self.client: httpx.AsyncClient | None = None
        self.loops: list[Loop] = []

    def start(self) -> None:
        self.client = httpx.AsyncClient(timeout=self.settings.receiver_timeout)
        by_receiver = make_senders(self.settings, self.service.unit_of_work, self.client)
        npo, nvr = by_receiver["npo"], by_receiver["nvr"]
        interval = timedelta(seconds=self.settings.nvr_interval_seconds)
        lease = timedelta(seconds=self.settings.run_lease_seconds)

        async def push_npo() -> bool:
            return await npo.batch() is not None

        async def nvr_step() -> bool:
            if await run_due(nvr, interval, lease) is not None:
                return True
            # What a run could not deliver is retried on its own schedule, not next night.
            return await nvr.batch(retries_only=True) is not None

        self.loops = [
            Loop("npo-push", push_npo, self.settings.npo_poll_seconds),
            Loop("nvr-runs", nvr_step, self.settings.nvr_poll_seconds),
        ]
        for loop in self.loops:
            loop.start()

    async def stop(self) -> None:
        for loop in self.loops:
            await loop.stop()
        if self.client is not None:
            await self.client.aclose()
            self.client = None


def exporter(service: Service) -> Worker:
    return Exporter(service)


WORKERS: tuple[Callable[[Service], Worker], ...] = (exporter,)
