"""Notifications' use cases: what an event or a request does, over the repository
(``store.py``) and the rules (``domain.py``), in the unit of work it is given or opens. No
HTTP, no Kafka: ``handlers.py`` and ``api/`` call these.

Booking events schedule messages under deterministic ids, so a second replica or a
redelivery past the consumer's dedup adds nothing (NT-1, NT-3, NT-4). No contact data is kept
here: the sender asks identity where to send (ID-3, NT-2); identity's events only wake messages
waiting for a number and withdraw what waits for a patient who became protected.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from vaccinera_contracts.access import Ops
from vaccinera_contracts.events import (
    BookingCancelled,
    BookingCreated,
    BookingRebooked,
    ContactDetailsChanged,
    ManageCodeIssued,
    ProtectionChanged,
)
from vaccinera_contracts.roles import Principal
from vaccinera_kit.access_log import AccessLog
from vaccinera_kit.errors import Forbidden
from vaccinera_kit.telemetry import current_trace_headers
from vaccinera_kit.unit_of_work import UnitOfWork, UnitOfWorkFactory
from vaccinera_notifications import domain, store
from vaccinera_notifications.identity import Identity
from vaccinera_notifications.settings import Settings
from vaccinera_notifications.store import MessageRow


@dataclass(frozen=True)
class Schedule:
    """When and in which time zone messages go out (from the settings)."""

    tz: ZoneInfo
    lead_hours: tuple[float, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> Schedule:
        return cls(ZoneInfo(settings.timezone), tuple(settings.reminder_lead_hours))


# --- requests ------------------------------------------------------------------------------------


async def patient_messages(
    unit_of_work: UnitOfWorkFactory,
    access: AccessLog,
    identity: Identity,
    principal: Principal,
    patient_id: str,
) -> list[MessageRow]:
    """The patient's messages, oldest first; the read is recorded (ID-7) in its transaction.
    Staff see those about bookings at the unit of their active assignment (AC-5); a citizen
    sees all of their own, and only their own (identity says whose record the login is)."""
    if principal.is_staff and principal.active_assignment is not None:
        unit_id: str | None = principal.active_assignment.unit_id
    elif principal.kind == "citizen":
        if await identity.my_patient_id() != patient_id:
            raise Forbidden("You can only see your own messages.", code="not_your_data")
        unit_id = None
    else:
        raise Forbidden("Only staff and the patient may see these messages.")
    async with unit_of_work() as uow:
        rows = await store.patient_messages(uow.conn, patient_id, unit_id=unit_id)
        uow.publish(access.event(principal, Ops.LIST_MESSAGES, patient_id))
    return rows


# --- identity's events: no contact data, only what to do now ----------------------------------------


async def contact_changed(uow: UnitOfWork, change: ContactDetailsChanged) -> None:
    """Contact details changed in identity (the event says no more, docs/decisions/0002):
    messages waiting for a number are tried at once; the sender asks identity for it."""
    await store.contact_arrived(uow.conn, change.patient_id)


async def protection_changed(uow: UnitOfWork, change: ProtectionChanged) -> None:
    if change.protected:
        # Identity answers "protected" at every send anyway; this settles what is waiting now.
        await store.withdraw_patient(uow.conn, change.patient_id, "protected identity")


# --- booking's events: the messages ------------------------------------------------------------------


async def booking_scheduled(
    uow: UnitOfWork,
    event_id: uuid.UUID,
    occurred_at: datetime,
    booking: BookingCreated | BookingRebooked,
    schedule: Schedule,
) -> None:
    """A booking made or moved: its projection, the notice and the reminders; a move
    withdraws the reminders of the old time (not those this event made, if redelivered)."""
    await store.booking_scheduled(
        uow.conn, booking.booking_id, booking.patient_id, booking.visit.start, occurred_at
    )
    if isinstance(booking, BookingRebooked):
        await store.withdraw_reminders(
            uow.conn, booking.booking_id, "booking moved", keep_event=str(event_id)
        )
    now = datetime.now(UTC)
    new = domain.on_booking_scheduled(
        str(event_id), booking, now=now, tz=schedule.tz, lead_hours=schedule.lead_hours
    )
    await _schedule(uow, new, now)


async def booking_cancelled(
    uow: UnitOfWork,
    event_id: uuid.UUID,
    occurred_at: datetime,
    booking: BookingCancelled,
    schedule: Schedule,
) -> None:
    await store.booking_cancelled(uow.conn, booking.booking_id, booking.patient_id, occurred_at)
    await store.withdraw_reminders(
        uow.conn, booking.booking_id, "booking cancelled", keep_event=str(event_id)
    )
    now = datetime.now(UTC)
    notice = domain.on_booking_cancelled(str(event_id), booking, now=now, tz=schedule.tz)
    if not await _schedule(uow, [notice], now) and notice.kind == "mass_cancellation":
        # The patient's SMS of this mass cancellation exists: it names this appointment too,
        # unless it has gone out already (NT-3: one SMS per patient).
        await store.append_to_scheduled(
            uow.conn,
            notice.message_id,
            domain.also_cancelled(booking.visit, booking.reference, schedule.tz),
            booking.reference,
        )


async def manage_code_issued(
    uow: UnitOfWork, event_id: uuid.UUID, issued: ManageCodeIssued, schedule: Schedule
) -> None:
    """A new manage code (BK-2): the patient gets it by SMS, like the first."""
    now = datetime.now(UTC)
    await _schedule(
        uow, [domain.on_manage_code_issued(str(event_id), issued, now=now, tz=schedule.tz)], now
    )


async def _schedule(
    uow: UnitOfWork, new: Sequence[domain.Message], now: datetime
) -> list[domain.Message]:
    # The consumer span is current: the sends later join the booking's trace.
    return await store.add_messages(uow.conn, new, current_trace_headers(), now)
