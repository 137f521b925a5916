"""Tables of the notifications service.

- No contact data: the sender asks identity for the numbers when it sends (ID-3,
  docs/decisions/0002); revision 0004 dropped the ``contacts`` projection.
- ``bookings``: projection of booking's events, just enough to tell whether a reminder still
  fits its booking (start, cancelled).
- ``messages``: one row per text message, keyed by a deterministic id derived from its trigger,
  so it exists at most once (NT-4). The sender claims due rows with ``FOR UPDATE SKIP LOCKED``
  and a lease; two partial indexes hold only what it may claim, so finding work never reads the
  sent history.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    Table,
    Text,
    Uuid,
    false,
    text,
)

from vaccinera_kit.database import service_metadata
from vaccinera_notifications.domain import KINDS, STATUSES

metadata = service_metadata()


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


bookings = Table(
    "bookings",
    metadata,
    Column("booking_id", Text, primary_key=True),
    Column("patient_id", Text, nullable=False),
    # Unknown for a booking first seen by its cancellation.
    Column("start", DateTime(timezone=True), nullable=True),
    Column("cancelled", Boolean, nullable=False, server_default=false()),
    # The time of the event that last changed the row: an older event never moves it back.
    Column("at", DateTime(timezone=True), nullable=False),
)

messages = Table(
    "messages",
    metadata,
    Column("message_id", Text, primary_key=True),
    Column("event_id", Uuid(as_uuid=False), nullable=False),
    Column("patient_id", Text, nullable=False),
    Column("booking_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Reminders: the visit start they remind of, compared with the booking when sent.
    Column("visit_start", DateTime(timezone=True), nullable=True),
    # The unit of the booking (the event's ``visit.unit_id``): staff see only their unit's
    # messages (AC-5). None only for rows from before revision 0002: shown to no staff.
    Column("unit_id", Text, nullable=True),
    # A confirmation's manage code, sealed to this service's key (``vaccinera_kit.sealed``):
    # only the sender opens it, into the request to the SMS provider. Cleared once the
    # message is settled (sent, failed, withdrawn, skipped).
    Column("sealed_code", Text, nullable=True),
    Column("status", Text, nullable=False, server_default=text("'scheduled'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("claimed_by", Text, nullable=True),
    Column("claimed_until", DateTime(timezone=True), nullable=True),
    # The trigger's trace context: the send joins the booking's trace.
    Column("traceparent", Text, nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("provider_message_id", Text, nullable=True),
    # Why it was not (yet) sent: "no mobile number", "booking moved", "provider answered 503".
    Column("last_error", Text, nullable=True),
    CheckConstraint(_one_of("kind", KINDS), name="kind"),
    CheckConstraint(_one_of("status", STATUSES), name="status"),
    # A claim always has an owner and a lease, or a crashed sender's claim could never expire.
    CheckConstraint(
        "status <> 'sending' OR (claimed_by IS NOT NULL AND claimed_until IS NOT NULL)",
        name="sending_is_claimed",
    ),
    # The sender's claim: scheduled messages by their next attempt, and claims whose lease
    # ran out (a sender that died). Both stay small however long the history grows.
    Index(
        "ix_messages_due",
        "next_attempt_at",
        postgresql_where=text("status = 'scheduled'"),
    ),
    Index(
        "ix_messages_expired_leases",
        "claimed_until",
        postgresql_where=text("status = 'sending'"),
    ),
    # A patient's messages in time order (API; withdrawal on protection).
    Index("ix_messages_patient_id_due_at", "patient_id", "due_at"),
    # A booking's reminders, withdrawn when it is moved or cancelled.
    Index("ix_messages_booking_id_kind", "booking_id", "kind"),
)
