"""Notifications' event subscribers and its worker.

- identity's events keep the contact projection; protection purges it and withdraws the
  patient's pending messages (ID-3, NT-2);
- booking's events schedule messages under deterministic ids, so a redelivered event or a
  second replica adds nothing (NT-1, NT-3, NT-4);
- ``WORKERS`` runs the sender (``sender.py``) in every replica.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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
from vaccinera_notifications import domain
from vaccinera_notifications.sender import Sender
from vaccinera_notifications.settings import Settings
from vaccinera_notifications.store import BookingProjection, ContactProjection, MessageStore


@dataclass
class Context:
    """What the handlers and the sender of one service share."""

    settings: Settings
    tz: ZoneInfo
    # Set when a handler stored a message that is due now: the sender sends it at once.
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)


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
    contacts = ContactProjection(consumer.db)
    bookings = BookingProjection(consumer.db)
    messages = MessageStore(consumer.db)

    async def schedule(new: Iterable[domain.Message]) -> None:
        # The consumer span is current: the sends later join the booking's trace.
        inserted = await messages.add(new, current_trace_headers())
        now = datetime.now(UTC)
        if any(m.due_at <= now for m in inserted):
            context(consumer).wakeup.set()

    @consumer.on(ContactDetailsChanged)
    async def contact_changed(event: TypedEnvelope[ContactDetailsChanged]) -> None:
        current = await contacts.get(event.data.patient_id)
        update = domain.contact_update(
            protected=bool(current and current.get("protected")),
            mobile=event.data.mobile,
            email=event.data.email,
        )
        await contacts.apply(event.data.patient_id, str(event.event_id), update)

    @consumer.on(ProtectionChanged)
    async def protection_changed(event: TypedEnvelope[ProtectionChanged]) -> None:
        await contacts.apply(
            event.data.patient_id,
            str(event.event_id),
            domain.protection_update(event.data.protected),
        )
        if event.data.protected:
            # The sender checks again before each send; this settles what is waiting now.
            await messages.withdraw_patient(event.data.patient_id, "protected identity")

    @consumer.on(BookingCreated)
    async def booking_created(event: TypedEnvelope[BookingCreated]) -> None:
        ctx = context(consumer)
        booking = event.data
        await bookings.scheduled(
            booking.booking_id, booking.patient_id, booking.visit.start, event.occurred_at
        )
        await schedule(
            domain.on_booking_created(
                str(event.event_id),
                booking,
                now=datetime.now(UTC),
                tz=ctx.tz,
                lead_hours=ctx.settings.reminder_lead_hours,
            )
        )

    @consumer.on(BookingRebooked)
    async def booking_rebooked(event: TypedEnvelope[BookingRebooked]) -> None:
        ctx = context(consumer)
        booking, event_id = event.data, str(event.event_id)
        # The booking first: a reminder claimed meanwhile sees the new time and stands down.
        await bookings.scheduled(
            booking.booking_id, booking.patient_id, booking.visit.start, event.occurred_at
        )
        await messages.withdraw_reminders(booking.booking_id, "booking moved", keep_event=event_id)
        await schedule(
            domain.on_booking_rebooked(
                event_id,
                booking,
                now=datetime.now(UTC),
                tz=ctx.tz,
                lead_hours=ctx.settings.reminder_lead_hours,
            )
        )

    @consumer.on(BookingCancelled)
    async def booking_cancelled(event: TypedEnvelope[BookingCancelled]) -> None:
        ctx = context(consumer)
        booking, event_id = event.data, str(event.event_id)
        await bookings.cancelled(booking.booking_id, booking.patient_id, event.occurred_at)
        await messages.withdraw_reminders(
            booking.booking_id, "booking cancelled", keep_event=event_id
        )
        await schedule(
            [domain.on_booking_cancelled(event_id, booking, now=datetime.now(UTC), tz=ctx.tz)]
        )


def _sender(service: Service) -> Worker:
    ctx = context(service.consumer)
    return Sender(service, ctx.settings, ctx.wakeup)


WORKERS: tuple[Callable[[Service], Worker], ...] = (_sender,)
