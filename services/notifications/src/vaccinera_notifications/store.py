"""Notifications' repository: SQLAlchemy Core statements over ``tables.py``.

Every statement is built once, at import, with named parameters: building a statement costs
more CPU than running it on a hot path, and a prebuilt one hits SQLAlchemy's compiled cache
and asyncpg's prepared statements every time. The EXPLAIN test (tests/test_hot_queries.py)
explains these same objects with the parameters the functions below pass.

Constants that pick a partial index (``status = 'scheduled'``) are written into the SQL, not
bound: a generic plan of a prepared statement cannot prove a partial index's predicate from a
parameter.

Over 400 lines on purpose: every statement of the service in one repository, so the EXPLAIN
test and the partial indexes of ``tables.py`` are checked against one module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    CursorResult,
    DateTime,
    Integer,
    Interval,
    Text,
    and_,
    bindparam,
    case,
    column,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_notifications.domain import BookingState, Kind, Message, Status
from vaccinera_notifications.tables import bookings, messages

PUBLISHES: tuple[type[DomainEvent], ...] = ()

# Handlers NOTIFY here when they store a message that is due now; PostgreSQL delivers it at
# commit (never for a rolled-back transaction) to the sender of every replica.
DUE_CHANNEL = "vaccinera_sms_due"
NOTIFY_DUE = text(f"SELECT pg_notify('{DUE_CHANNEL}', '')")

# Written into the SQL (see the module docstring).
SCHEDULED = literal_column("'scheduled'", Text)
SENDING = literal_column("'sending'", Text)
REMINDER = literal_column("'reminder'", Text)

# What one page of a patient's history shows at most (the API's limit).
PATIENT_PAGE = 500

m = messages


def _count(result: CursorResult[Any]) -> int:
    return int(result.rowcount)


# --- bookings --------------------------------------------------------------------------------

_new_booking = insert(bookings)
# Record or move a booking. Events of one patient arrive in order (keyed by patient id); ``at``
# still keeps a late duplicate of an older event from moving a booking back, and a cancelled
# booking stays cancelled.
BOOKING_SCHEDULED = _new_booking.on_conflict_do_update(
    index_elements=[bookings.c.booking_id],
    set_={"start": _new_booking.excluded.start, "at": _new_booking.excluded.at},
    where=and_(bookings.c.cancelled.is_(False), bookings.c.at < _new_booking.excluded.at),
)
# Cancelled, also a booking never seen before (its start stays unknown).
BOOKING_CANCELLED = _new_booking.on_conflict_do_update(
    index_elements=[bookings.c.booking_id],
    set_={"cancelled": _new_booking.excluded.cancelled, "at": _new_booking.excluded.at},
)


async def booking_scheduled(
    conn: AsyncConnection, booking_id: str, patient_id: str, start: datetime, at: datetime
) -> None:
    await conn.execute(
        BOOKING_SCHEDULED,
        {
            "booking_id": booking_id,
            "patient_id": patient_id,
            "start": start,
            "cancelled": False,
            "at": at,
        },
    )


async def booking_cancelled(
    conn: AsyncConnection, booking_id: str, patient_id: str, at: datetime
) -> None:
    await conn.execute(
        BOOKING_CANCELLED,
        {
            "booking_id": booking_id,
            "patient_id": patient_id,
            "start": None,
            "cancelled": True,
            "at": at,
        },
    )


# --- messages: the handlers' side ----------------------------------------------------------------

# Executed with a list of rows: sent as one multi-row INSERT, compiled once (a statement with
# ``.values([...])`` would be compiled anew every time).
ADD_MESSAGES = (
    insert(messages)
    .on_conflict_do_nothing(index_elements=[m.c.message_id])
    .returning(m.c.message_id)
)


async def add_messages(
    conn: AsyncConnection, new: Iterable[Message], trace: Mapping[str, str], now: datetime
) -> list[Message]:
    """Insert the messages not there yet; returns those this call inserted. An existing id
    means the same trigger was handled before (redelivery, another replica): NT-4. Wakes the
    senders at commit when one of them is due."""
    candidates = list(new)
    if not candidates:
        return []
    traceparent = trace.get("traceparent") or None
    rows = [_row(message, traceparent) for message in candidates]
    ids = set((await conn.execute(ADD_MESSAGES, rows)).scalars())
    inserted = [message for message in candidates if message.message_id in ids]
    if any(message.due_at <= now for message in inserted):
        await conn.execute(NOTIFY_DUE)
    return inserted


APPEND_TO_SCHEDULED = (
    update(messages)
    .where(
        m.c.message_id == bindparam("id"),
        m.c.status == "scheduled",
        func.strpos(m.c.text, bindparam("reference")) == 0,
    )
    .values(text=m.c.text + bindparam("addition"))
)


async def append_to_scheduled(
    conn: AsyncConnection, message_id: str, addition: str, reference: str
) -> bool:
    """Add to a message not sent yet; once per booking reference (a redelivery adds nothing)."""
    result = await conn.execute(
        APPEND_TO_SCHEDULED, {"id": message_id, "reference": reference, "addition": addition}
    )
    return _count(result) > 0


def _row(message: Message, traceparent: str | None) -> dict[str, Any]:
    return {
        "message_id": message.message_id,
        "event_id": message.event_id,
        "patient_id": message.patient_id,
        "booking_id": message.booking_id,
        "kind": message.kind,
        "text": message.text,
        "due_at": message.due_at,
        "created_at": message.created_at,
        "visit_start": message.visit_start,
        "unit_id": message.unit_id,
        "sealed_code": message.sealed_code,
        "status": "scheduled",
        "attempts": 0,
        "next_attempt_at": message.due_at,
        "traceparent": traceparent,
    }


# The booking's scheduled reminders, except those ``keep_event`` created (so a redelivered
# rebooking does not withdraw its own new reminders).
WITHDRAW_REMINDERS = (
    update(m)
    .where(
        m.c.booking_id == bindparam("booking"),
        m.c.kind == REMINDER,
        m.c.status == SCHEDULED,
        m.c.event_id != bindparam("keep_event"),
    )
    .values(status="withdrawn", last_error=bindparam("reason"))
)


async def withdraw_reminders(
    conn: AsyncConnection, booking_id: str, reason: str, *, keep_event: str
) -> int:
    params = {"booking": booking_id, "reason": reason, "keep_event": keep_event}
    return _count(await conn.execute(WITHDRAW_REMINDERS, params))


WITHDRAW_PATIENT = (
    update(m)
    .where(m.c.patient_id == bindparam("patient"), m.c.status == SCHEDULED)
    .values(status="withdrawn", last_error=bindparam("reason"))
)


async def withdraw_patient(conn: AsyncConnection, patient_id: str, reason: str) -> int:
    return _count(await conn.execute(WITHDRAW_PATIENT, {"patient": patient_id, "reason": reason}))


# Messages that were only waiting for this patient's number become due now (instead of at
# their next look, up to a second later). Never-tried ones only: a retry keeps its backoff.
CONTACT_ARRIVED = (
    update(m)
    .where(
        m.c.patient_id == bindparam("patient"),
        m.c.status == SCHEDULED,
        m.c.attempts == 0,
        m.c.due_at <= func.now(),
        m.c.next_attempt_at > func.now(),
    )
    .values(next_attempt_at=func.now())
)


async def contact_arrived(conn: AsyncConnection, patient_id: str) -> int:
    woken = _count(await conn.execute(CONTACT_ARRIVED, {"patient": patient_id}))
    if woken:
        await conn.execute(NOTIFY_DUE)
    return woken


PATIENT_MESSAGES = (
    select(
        m.c.message_id,
        m.c.booking_id,
        m.c.unit_id,
        m.c.kind,
        m.c.status,
        m.c.text,
        m.c.due_at,
        m.c.sent_at,
        m.c.attempts,
        m.c.last_error,
    )
    .where(m.c.patient_id == bindparam("patient"))
    .order_by(m.c.due_at, m.c.message_id)
    .limit(PATIENT_PAGE)
)
# Staff see the patient's messages about bookings at their active assignment's unit (AC-5).
PATIENT_MESSAGES_AT_UNIT = PATIENT_MESSAGES.where(m.c.unit_id == bindparam("unit"))


@dataclass(frozen=True)
class MessageRow:
    """A message as the API shows it."""

    message_id: str
    booking_id: str
    unit_id: str | None
    kind: Kind
    status: Status
    text: str
    due_at: datetime
    sent_at: datetime | None
    attempts: int
    last_error: str | None


async def patient_messages(
    conn: AsyncConnection, patient_id: str, *, unit_id: str | None
) -> list[MessageRow]:
    """The patient's messages, oldest first: about bookings at ``unit_id`` only, or all of
    them with ``unit_id=None`` (the patient's own view)."""
    if unit_id is None:
        result = await conn.execute(PATIENT_MESSAGES, {"patient": patient_id})
    else:
        result = await conn.execute(
            PATIENT_MESSAGES_AT_UNIT, {"patient": patient_id, "unit": unit_id}
        )
    return [MessageRow(**row._mapping) for row in result]


# --- messages: the sender's side ------------------------------------------------------------------

# Due and scheduled, or claimed by a sender whose lease ran out (it crashed). Each arm matches
# one partial index; the database clock decides, so replicas never disagree about leases.
_claimable = (
    select(m.c.message_id)
    .where(
        or_(
            and_(
                m.c.status == SCHEDULED, m.c.due_at <= func.now(), m.c.next_attempt_at <= func.now()
            ),
            and_(m.c.status == SENDING, m.c.claimed_until < func.now()),
        )
    )
    .order_by(m.c.next_attempt_at)
    .limit(bindparam("n", type_=Integer))
    .with_for_update(skip_locked=True)
)
_claimed = (
    update(m)
    .where(m.c.message_id.in_(_claimable.scalar_subquery()))
    .values(
        status="sending",
        claimed_by=bindparam("owner"),
        claimed_until=func.now() + bindparam("lease", type_=Interval),
        attempts=m.c.attempts + 1,
    )
    .returning(
        m.c.message_id,
        m.c.event_id,
        m.c.patient_id,
        m.c.booking_id,
        m.c.kind,
        m.c.text,
        m.c.due_at,
        m.c.created_at,
        m.c.visit_start,
        m.c.sealed_code,
        m.c.attempts,
        m.c.traceparent,
    )
    .cte("claimed")
)
# Claim up to ``n`` claimable messages for ``owner`` in one statement: lock them (skipping those
# another sender is locking), mark them ``sending`` with a lease, count the attempt, and return
# each with (for a reminder) its booking. Where to send is asked of identity afterwards, for
# the whole batch at once (no contact data is kept here).
CLAIM = select(
    _claimed,
    bookings.c.booking_id.label("known_booking_id"),
    bookings.c.start,
    bookings.c.cancelled,
).select_from(
    _claimed.outerjoin(
        bookings,
        and_(_claimed.c.kind == REMINDER, bookings.c.booking_id == _claimed.c.booking_id),
    )
)


@dataclass(frozen=True)
class Claimed:
    """A message this sender now holds, with what deciding about it needs."""

    message: Message
    attempt: int  # 1 for the first try
    trace: dict[str, str]  # trace context of the trigger
    booking: BookingState | None  # reminders only


async def claim(conn: AsyncConnection, owner: str, lease: timedelta, limit: int) -> list[Claimed]:
    rows = (await conn.execute(CLAIM, {"owner": owner, "lease": lease, "n": limit})).all()
    return [
        Claimed(
            message=Message(
                message_id=r.message_id,
                event_id=str(r.event_id),
                patient_id=r.patient_id,
                booking_id=r.booking_id,
                kind=r.kind,
                text=r.text,
                due_at=r.due_at,
                created_at=r.created_at,
                visit_start=r.visit_start,
                sealed_code=r.sealed_code,
            ),
            attempt=r.attempts,
            trace={"traceparent": r.traceparent} if r.traceparent else {},
            booking=None
            if r.known_booking_id is None
            else BookingState(start=r.start, cancelled=r.cancelled),
        )
        for r in rows
    ]


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed message; ``record`` writes many in one statement."""

    message_id: str
    status: Status
    last_error: str | None = None
    # A release leaves the reason of an earlier failed try in place.
    keep_error: bool = False
    next_attempt_at: datetime | None = None
    provider_message_id: str | None = None
    sent_at: datetime | None = None
    # Nothing was sent (released while waiting for a number): the claim was no attempt.
    refund: bool = False


def sent(message_id: str, provider_message_id: str, at: datetime) -> Outcome:
    return Outcome(message_id, "sent", provider_message_id=provider_message_id, sent_at=at)


def retry(message_id: str, at: datetime, reason: str) -> Outcome:
    return Outcome(message_id, "scheduled", last_error=reason, next_attempt_at=at)


def release(message_id: str, until: datetime) -> Outcome:
    return Outcome(message_id, "scheduled", keep_error=True, next_attempt_at=until, refund=True)


def postpone(message_id: str, until: datetime, reason: str) -> Outcome:
    """Not tried at all (identity could not say where to send): no attempt, the reason shown."""
    return Outcome(message_id, "scheduled", last_error=reason, next_attempt_at=until, refund=True)


def ended(message_id: str, status: Status, reason: str) -> Outcome:
    """``failed``, ``withdrawn`` or ``skipped``, and why."""
    return Outcome(message_id, status, last_error=reason)


_WHEN = DateTime(timezone=True)
# One array per field, unnested side by side into one row per outcome.
_OUTCOME_FIELDS: tuple[tuple[str, Any], ...] = (
    ("message_id", Text),
    ("status", Text),
    ("last_error", Text),
    ("keep_error", Boolean),
    ("next_attempt_at", _WHEN),
    ("provider_message_id", Text),
    ("sent_at", _WHEN),
    ("refund", Integer),
)
_outcome = (
    # Parameters named apart from the columns (SQLAlchemy reserves those for SET).
    func.unnest(*(bindparam(f"o_{name}", type_=ARRAY(kind)) for name, kind in _OUTCOME_FIELDS))
    .table_valued(*(column(name, kind) for name, kind in _OUTCOME_FIELDS))
    .render_derived(name="outcome")
)
# Write the outcomes, each only where ``owner`` still holds the claim: a sender whose lease ran
# out (and whose message was taken over) changes nothing. Returns the ids written.
RECORD = (
    update(m)
    .where(
        m.c.message_id == _outcome.c.message_id,
        m.c.status == SENDING,
        m.c.claimed_by == bindparam("owner"),
    )
    .values(
        status=_outcome.c.status,
        last_error=case((_outcome.c.keep_error, m.c.last_error), else_=_outcome.c.last_error),
        next_attempt_at=func.coalesce(_outcome.c.next_attempt_at, m.c.next_attempt_at),
        provider_message_id=func.coalesce(_outcome.c.provider_message_id, m.c.provider_message_id),
        sent_at=func.coalesce(_outcome.c.sent_at, m.c.sent_at),
        attempts=m.c.attempts - _outcome.c.refund,
        # A settled message needs its sealed code no more.
        sealed_code=case((_outcome.c.status == SCHEDULED, m.c.sealed_code), else_=None),
        claimed_by=None,
        claimed_until=None,
    )
    .returning(m.c.message_id)
)


def record_parameters(owner: str, outcomes: Sequence[Outcome]) -> dict[str, Any]:
    params: dict[str, Any] = {
        f"o_{name}": [getattr(o, name) for o in outcomes] for name, _ in _OUTCOME_FIELDS
    }
    params["o_refund"] = [int(o.refund) for o in outcomes]
    params["owner"] = owner
    return params


async def record(conn: AsyncConnection, owner: str, outcomes: Sequence[Outcome]) -> set[str]:
    """Record outcomes of ``owner``'s claims; returns the ids it still held (and wrote)."""
    if not outcomes:
        return set()
    result = await conn.execute(RECORD, record_parameters(owner, outcomes))
    return set(result.scalars())
