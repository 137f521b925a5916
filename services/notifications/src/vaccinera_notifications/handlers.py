"""Notifications' event subscribers and its worker: each handler hands its event to one use
case of ``services.py``, in the consumer's unit of work (its writes and the event's processed
mark commit together); ``WORKERS`` runs the sender (``sender.py``) in every replica."""

from __future__ import annotations

from collections.abc import Callable

from vaccinera_contracts.envelope import TypedEnvelope
from vaccinera_contracts.events import (
    BookingCancelled,
    BookingCreated,
    BookingRebooked,
    ContactDetailsChanged,
    ManageCodeIssued,
    ProtectionChanged,
)
from vaccinera_kit.app import Service, Worker
from vaccinera_kit.consumer import EventConsumer
from vaccinera_kit.settings import settings_as
from vaccinera_kit.unit_of_work import UnitOfWork
from vaccinera_notifications import services
from vaccinera_notifications.sender import Sender
from vaccinera_notifications.settings import Settings


def register(consumer: EventConsumer) -> None:
    schedule = services.Schedule.from_settings(settings_as(consumer.settings, Settings))

    @consumer.on(ContactDetailsChanged)
    async def contact_changed(event: TypedEnvelope[ContactDetailsChanged], uow: UnitOfWork) -> None:
        await services.contact_changed(uow, event.data)

    @consumer.on(ProtectionChanged)
    async def protection_changed(event: TypedEnvelope[ProtectionChanged], uow: UnitOfWork) -> None:
        await services.protection_changed(uow, event.data)

    @consumer.on(BookingCreated)
    async def booking_created(event: TypedEnvelope[BookingCreated], uow: UnitOfWork) -> None:
        await services.booking_scheduled(
            uow, event.event_id, event.occurred_at, event.data, schedule
        )

    @consumer.on(BookingRebooked)
    async def booking_rebooked(event: TypedEnvelope[BookingRebooked], uow: UnitOfWork) -> None:
        await services.booking_scheduled(
            uow, event.event_id, event.occurred_at, event.data, schedule
        )

    @consumer.on(BookingCancelled)
    async def booking_cancelled(event: TypedEnvelope[BookingCancelled], uow: UnitOfWork) -> None:
        await services.booking_cancelled(
            uow, event.event_id, event.occurred_at, event.data, schedule
        )

    @consumer.on(ManageCodeIssued)
    async def manage_code_issued(event: TypedEnvelope[ManageCodeIssued], uow: UnitOfWork) -> None:
        await services.manage_code_issued(uow, event.event_id, event.data, schedule)


def sender(service: Service) -> Worker:
    return Sender(service, service.settings_as(Settings))


WORKERS: tuple[Callable[[Service], Worker], ...] = (sender,)
