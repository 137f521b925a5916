"""Notifications' event subscribers and its worker.

- identity's events keep the contact projection; protection purges it and withdraws the
  patient's pending messages (ID-3, NT-2);
- booking's events schedule messages under deterministic ids, so a second replica or a
  redelivery past the consumer's dedup adds nothing (NT-1, NT-3, NT-4);
- ``WORKERS`` runs the sender (``sender.py``) in every replica.

Each handler runs in the consumer's unit of work: its writes and the event's processed mark
commit together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo

from vaccinera_contracts.envelope import TypedEnvelope
from vaccinera_contracts.events import (
    BookingCancelled,
    BookingCreated,
    BookingRebooked,
    ContactDetailsChanged,
    ProtectionChanged,
)
from vaccinera_kit.app import Service, Worker
from vaccinera_kit.consumer import EventConsumer
from vaccinera_kit.telemetry import current_trace_headers
from vaccinera_kit.unit_of_work import UnitOfWork
from vaccinera_notifications import domain, store
from vaccinera_notifications.sender import Sender
from vaccinera_notifications.settings import Settings


@dataclass(frozen=True)
class Context:
    """What the handlers and the sender of one service share."""

    settings: Settings
    tz: ZoneInfo


# The kit hands handlers only the consumer; main.create_service binds the settings to it.
_contexts: WeakKeyDictionary[EventConsumer, Context] = WeakKeyDictionary()


def bind(consumer: EventConsumer, settings: Settings) -> Context:
    context = Context(settings, ZoneInfo(settings.timezone))
    _contexts[consumer] = context
    return context


def context(consumer: EventConsumer) -> Context:
    try:
        return _contexts[consumer]
    except KeyError:
        raise RuntimeError(
            "notifications handlers are not bound to settings: build the service with "
            "vaccinera_notifications.main.create_service"
        ) from None


def register(consumer: EventConsumer) -> None:
    async def schedule(uow: UnitOfWork, new: list[domain.Message], now: datetime) -> None:
        # The consumer span is current: the sends later join the booking's trace.
        await store.add_messages(uow.conn, new, current_trace_headers(), now)

    @consumer.on(ContactDetailsChanged)
    async def contact_changed(event: TypedEnvelope[ContactDetailsChanged], uow: UnitOfWork) -> None:
        patient_id = event.data.patient_id
        current = await store.contact(uow.conn, patient_id)
        update = domain.contact_update(
            protected=current is not None and current.protected,
            mobile=event.data.mobile,
            email=event.data.email,
        )
        await store.apply_contact(uow.conn, patient_id, update)
        if event.data.mobile:
            await store.contact_arrived(uow.conn, patient_id)

    @consumer.on(ProtectionChanged)
    async def protection_changed(event: TypedEnvelope[ProtectionChanged], uow: UnitOfWork) -> None:
        patient_id = event.data.patient_id
        await store.apply_contact(
            uow.conn, patient_id, domain.protection_update(event.data.protected)
        )
        if event.data.protected:
            # The sender checks again before each send; this settles what is waiting now.
            await store.withdraw_patient(uow.conn, patient_id, "protected identity")

    @consumer.on(BookingCreated)
    async def booking_created(event: TypedEnvelope[BookingCreated], uow: UnitOfWork) -> None:
        ctx, booking, now = context(consumer), event.data, datetime.now(UTC)
        await store.booking_scheduled(
            uow.conn, booking.booking_id, booking.patient_id, booking.visit.start, event.occurred_at
        )
        new = domain.on_booking_created(
            str(event.event_id),
            booking,
            now=now,
            tz=ctx.tz,
            lead_hours=ctx.settings.reminder_lead_hours,
        )
        await schedule(uow, new, now)

    @consumer.on(BookingRebooked)
    async def booking_rebooked(event: TypedEnvelope[BookingRebooked], uow: UnitOfWork) -> None:
        ctx, booking, now = context(consumer), event.data, datetime.now(UTC)
        event_id = str(event.event_id)
        await store.booking_scheduled(
            uow.conn, booking.booking_id, booking.patient_id, booking.visit.start, event.occurred_at
        )
        await store.withdraw_reminders(
            uow.conn, booking.booking_id, "booking moved", keep_event=event_id
        )
        new = domain.on_booking_rebooked(
            event_id,
            booking,
            now=now,
            tz=ctx.tz,
            lead_hours=ctx.settings.reminder_lead_hours,
        )
        await schedule(uow, new, now)

    @consumer.on(BookingCancelled)
    async def booking_cancelled(event: TypedEnvelope[BookingCancelled], uow: UnitOfWork) -> None:
        ctx, booking, now = context(consumer), event.data, datetime.now(UTC)
        event_id = str(event.event_id)
        await store.booking_cancelled(
            uow.conn, booking.booking_id, booking.patient_id, event.occurred_at
        )
        await store.withdraw_reminders(
            uow.conn, booking.booking_id, "booking cancelled", keep_event=event_id
        )
        new = domain.on_booking_cancelled(event_id, booking, now=now, tz=ctx.tz)
        await schedule(uow, [new], now)


def _sender(service: Service) -> Worker:
    return Sender(service, context(service.consumer).settings)


WORKERS: tuple[Callable[[Service], Worker], ...] = (_sender,)
