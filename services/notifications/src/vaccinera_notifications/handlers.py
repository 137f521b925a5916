"""Notifications' event subscribers: keep the contact projection, purge on protection."""

from __future__ import annotations

from vaccinera_contracts.envelope import TypedEnvelope
from vaccinera_contracts.events import ContactDetailsChanged, ProtectionChanged
from vaccinera_kit.consumer import EventConsumer
from vaccinera_notifications import domain
from vaccinera_notifications.store import ContactProjection


def register(consumer: EventConsumer) -> None:
    contacts = ContactProjection(consumer.db)

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
