"""Notification rules, free of I/O: which messages a booking event causes, their Swedish texts,
and what to do with a due message when it is about to be sent (NT-1..NT-4).

Every message has a deterministic id derived from what triggered it, so a redelivered event,
a retry or a second replica can never create it twice (NT-4). Texts carry the unit, the time
and the booking reference, never the patient's name or identifier: the booking events do not
even hold them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Literal, get_args

from vaccinera_contracts.events import (
    BookingCancelled,
    BookingCreated,
    BookingRebooked,
    ManageCodeIssued,
    Visit,
)

Kind = Literal["confirmation", "reminder", "rebooked", "cancelled", "mass_cancellation"]
Status = Literal["scheduled", "sending", "sent", "failed", "withdrawn", "skipped"]
KINDS: tuple[Kind, ...] = get_args(Kind)
STATUSES: tuple[Status, ...] = get_args(Status)
# Only these visit types get reminders (NT-1; the FAQ: "SMS-påminnelse för både första och
# andra vaccinationsdos").
REMINDER_DOSES = (1, 2)

WEEKDAYS = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
MONTHS = (
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
)


@dataclass(frozen=True)
class Message:
    """One text message to one patient. The mobile number is not part of it: it is looked up
    when the message is sent, so a changed number or a protection purge is honoured."""

    message_id: str
    event_id: str
    patient_id: str
    booking_id: str
    kind: Kind
    text: str
    due_at: datetime
    created_at: datetime
    # Reminders: the visit start they remind of, compared with the booking when sent.
    visit_start: datetime | None = None
    # The unit of the booking it is about: staff see a patient's messages only from the unit
    # of their active assignment (AC-5).
    unit_id: str | None = None
    # A confirmation: the manage code sealed to this service's key, for ``CODE_PLACEHOLDER``.
    sealed_code: str | None = None


# --- deterministic ids -------------------------------------------------------------------------


def message_id(event_id: str, kind: Kind) -> str:
    return f"{event_id}:{kind}"


def reminder_id(event_id: str, lead_hours: float) -> str:
    return f"{event_id}:reminder-{lead_hours:g}h"


def mass_message_id(mass_cancellation_id: str, patient_id: str) -> str:
    # Keyed by patient, not booking: one SMS per patient however many bookings (NT-3).
    return f"mass:{mass_cancellation_id}:{patient_id}"


# --- texts -------------------------------------------------------------------------------------


def when(moment: datetime, tz: tzinfo) -> tuple[str, str]:
    """``("tisdag 3 mars", "14:30")`` in the region's local time."""
    local = moment.astimezone(tz)
    return f"{WEEKDAYS[local.weekday()]} {local.day} {MONTHS[local.month - 1]}", f"{local:%H:%M}"


# Where the manage code goes in a stored text. The code itself is kept only sealed (to this
# service's key, ``Message.sealed_code``); the sender opens it and puts it in the text in the
# request to the SMS provider, nowhere else (issue 9).
CODE_PLACEHOLDER = "{kod}"


def confirmation_text(visit: Visit, reference: str, tz: tzinfo) -> str:
    date, time = when(visit.start, tz)
    unit = visit.unit_name
    return (
        f"Välkommen till {unit} {date} kl {time} för {visit.visit_type_name}. "
        f"Bokningsnummer {reference}, kod {CODE_PLACEHOLDER}. "
        f"Avboka eller omboka på 1177.se eller med bokningsnumret och koden. /{unit}"
    )


def compose(text: str, code: str | None) -> str:
    """The text as the patient receives it: the opened code in its place."""
    return text if code is None else text.replace(CODE_PLACEHOLDER, code)


def reminder_text(visit: Visit, reference: str, tz: tzinfo) -> str:
    # No manage code: it reaches only the confirmation (contract of BookingCreated).
    date, time = when(visit.start, tz)
    unit = visit.unit_name
    return (
        f"Påminnelse: välkommen till {unit} {date} kl {time} för {visit.visit_type_name}. "
        f"Bokningsnummer {reference}. Kan du inte komma, avboka på 1177.se. /{unit}"
    )


def rebooked_text(visit: Visit, reference: str, tz: tzinfo) -> str:
    date, time = when(visit.start, tz)
    unit = visit.unit_name
    return (
        f"Din tid är flyttad. Välkommen till {unit} {date} kl {time} för "
        f"{visit.visit_type_name}. Bokningsnummer {reference}. /{unit}"
    )


def cancelled_text(visit: Visit, reference: str, tz: tzinfo) -> str:
    date, time = when(visit.start, tz)
    unit = visit.unit_name
    return (
        f"Din tid på {unit} {date} kl {time} för {visit.visit_type_name} är avbokad. "
        f"Bokningsnummer {reference}. Boka en ny tid på 1177.se. /{unit}"
    )


# What the API shows of a text: the manage code masked, for staff and patient alike (the
# patient has it in the SMS). Whoever holds the reference and the code can rebook or cancel
# the time anonymously, so no screen may show it.
CODE_MASK = "******"
# A clear code in a text stored before the code was sealed (revision 0003 masked them).
_CODE = re.compile(r"(?<=kod )\d+")


def shown(text: str) -> str:
    return _CODE.sub(CODE_MASK, text.replace(CODE_PLACEHOLDER, CODE_MASK))


# A mass cancellation arrives as one event per booking; a patient's SMS waits this long so it
# names every appointment of theirs it cancels (one SMS per patient, NT-3).
MASS_CANCELLATION_GATHER = timedelta(seconds=3)


def mass_cancellation_text(
    visit: Visit, reference: str, unit_message: str | None, tz: tzinfo
) -> str:
    """The unit's own words (BK-6), or a plain notice if it wrote none, and which appointment
    is cancelled: the patient may have more than one at the unit (NT-3)."""
    date, time = when(visit.start, tz)
    unit = visit.unit_name
    notice = (unit_message or "").strip() or (
        f"Din tid på {unit} är tyvärr avbokad av mottagningen. Boka en ny tid på 1177.se."
    )
    return f"{notice} Avbokad tid: {unit} {date} kl {time}, bokningsnummer {reference}."


def also_cancelled(visit: Visit, reference: str, tz: tzinfo) -> str:
    """What a patient's mass-cancellation SMS adds for each further appointment it cancels."""
    date, time = when(visit.start, tz)
    return f" Även {date} kl {time}, bokningsnummer {reference}."


# --- what each booking event causes ------------------------------------------------------------


def reminders(
    event_id: str,
    *,
    patient_id: str,
    booking_id: str,
    reference: str,
    visit: Visit,
    now: datetime,
    tz: tzinfo,
    lead_hours: Iterable[float],
) -> list[Message]:
    """Reminders before dose-1 and dose-2 visits, at each lead time still in the future."""
    if visit.dose not in REMINDER_DOSES:
        return []
    text = reminder_text(visit, reference, tz)
    out = []
    for lead in sorted(set(lead_hours), reverse=True):
        due = visit.start - timedelta(hours=lead)
        if due > now:
            out.append(
                Message(
                    message_id=reminder_id(event_id, lead),
                    event_id=event_id,
                    patient_id=patient_id,
                    booking_id=booking_id,
                    kind="reminder",
                    text=text,
                    due_at=due,
                    created_at=now,
                    visit_start=visit.start,
                    unit_id=visit.unit_id,
                )
            )
    return out


def on_booking_scheduled(
    event_id: str,
    event: BookingCreated | BookingRebooked,
    *,
    now: datetime,
    tz: tzinfo,
    lead_hours: Iterable[float],
) -> list[Message]:
    """A notice now and reminders for the booked time: for a new booking the confirmation
    (with the reference, and the manage code still sealed), for a moved one the rebook notice
    (its old reminders are withdrawn)."""
    sealed_code: str | None = None
    if isinstance(event, BookingCreated):
        kind: Kind = "confirmation"
        text = confirmation_text(event.visit, event.reference, tz)
        sealed_code = event.sealed_manage_code
    else:
        kind, text = "rebooked", rebooked_text(event.visit, event.reference, tz)
    notice = Message(
        message_id=message_id(event_id, kind),
        event_id=event_id,
        patient_id=event.patient_id,
        booking_id=event.booking_id,
        kind=kind,
        text=text,
        due_at=now,
        created_at=now,
        unit_id=event.visit.unit_id,
        sealed_code=sealed_code,
    )
    return [
        notice,
        *reminders(
            event_id,
            patient_id=event.patient_id,
            booking_id=event.booking_id,
            reference=event.reference,
            visit=event.visit,
            now=now,
            tz=tz,
            lead_hours=lead_hours,
        ),
    ]


def on_booking_cancelled(
    event_id: str, event: BookingCancelled, *, now: datetime, tz: tzinfo
) -> Message:
    """A cancellation notice; for a mass cancellation one message per patient with the unit's
    text, whichever of the patient's cancelled bookings comes first (NT-3)."""
    if event.cancelled_by == "mass_cancellation" and event.mass_cancellation_id:
        return Message(
            message_id=mass_message_id(event.mass_cancellation_id, event.patient_id),
            event_id=event_id,
            patient_id=event.patient_id,
            booking_id=event.booking_id,
            kind="mass_cancellation",
            text=mass_cancellation_text(event.visit, event.reference, event.message, tz),
            due_at=now + MASS_CANCELLATION_GATHER,
            created_at=now,
            unit_id=event.visit.unit_id,
        )
    return Message(
        message_id=message_id(event_id, "cancelled"),
        event_id=event_id,
        patient_id=event.patient_id,
        booking_id=event.booking_id,
        kind="cancelled",
        text=cancelled_text(event.visit, event.reference, tz),
        due_at=now,
        created_at=now,
        unit_id=event.visit.unit_id,
    )


def new_code_text(visit: Visit, reference: str, tz: tzinfo) -> str:
    date, time = when(visit.start, tz)
    unit = visit.unit_name
    return (
        f"Ny kod för din tid på {unit} {date} kl {time}: bokningsnummer {reference}, "
        f"kod {CODE_PLACEHOLDER}. Den tidigare koden gäller inte längre. /{unit}"
    )


def on_manage_code_issued(
    event_id: str, event: ManageCodeIssued, *, now: datetime, tz: tzinfo
) -> Message:
    """Staff gave the booking a new manage code (BK-2): texted at once, the way the first one
    was (a confirmation, the code sealed until the sender puts it in)."""
    return Message(
        message_id=message_id(event_id, "confirmation"),
        event_id=event_id,
        patient_id=event.patient_id,
        booking_id=event.booking_id,
        kind="confirmation",
        text=new_code_text(event.visit, event.reference, tz),
        due_at=now,
        created_at=now,
        unit_id=event.visit.unit_id,
        sealed_code=event.sealed_manage_code,
    )


# --- at send time (NT-2) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    """Where to send, as identity answers at send time (never stored here, ID-3)."""

    mobile: str | None
    protected: bool


@dataclass(frozen=True)
class BookingState:
    start: datetime | None
    cancelled: bool


@dataclass(frozen=True)
class Send:
    to: str


@dataclass(frozen=True)
class Withdraw:
    reason: str


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class Wait:
    until: datetime


Decision = Send | Withdraw | Skip | Wait


def decide(
    message: Message,
    contact: Contact | None,
    booking: BookingState | None,
    *,
    now: datetime,
    contact_wait: timedelta,
) -> Decision:
    """Send a due message, or why not. Protection wins over everything; a reminder is sent
    only for the booking as it still stands; no mobile number, no SMS."""
    if contact is not None and contact.protected:
        return Withdraw("protected identity")
    if message.kind == "reminder":
        if booking is None:
            return Withdraw("booking unknown")
        if booking.cancelled:
            return Withdraw("booking cancelled")
        if message.visit_start is None or booking.start != message.visit_start:
            return Withdraw("booking moved")
        if message.visit_start <= now:
            return Withdraw("visit already started")
    mobile = contact.mobile if contact is not None else None
    if not mobile:
        # The number may still be on its way from identity (another topic): wait a little.
        give_up = message.created_at + contact_wait
        if now < give_up:
            return Wait(min(give_up, now + timedelta(seconds=1)))
        return Skip("no mobile number")
    return Send(mobile)


def backoff(attempts: int, *, base: float, cap: float) -> timedelta:
    """Wait after the ``attempts``-th failed try: base, 2·base, 4·base, … at most ``cap``."""
    return timedelta(seconds=min(cap, base * 2 ** max(attempts - 1, 0)))


def retry_at(
    attempts: int,
    *,
    transient: bool,
    max_attempts: int,
    now: datetime,
    base: float,
    cap: float,
) -> datetime | None:
    """When to try a failed send again; None to give up (the message is ``failed``). A 4xx
    from the provider will not get better by retrying."""
    if not transient or attempts >= max_attempts:
        return None
    return now + backoff(attempts, base=base, cap=cap)
