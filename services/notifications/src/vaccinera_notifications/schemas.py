"""Response bodies of notifications' API and the mappers to them (stored rows are never
returned raw)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, Field

from vaccinera_notifications.domain import Kind, Status, shown
from vaccinera_notifications.store import MessageRow


class MessageOut(BaseModel):
    message_id: str
    booking_id: str
    # The unit of the booking the message is about (AC-5: staff see only their unit's).
    unit_id: str | None
    kind: Kind
    status: Status
    # As sent, with the booking's manage code masked ("kod ******").
    text: str
    due_at: datetime
    sent_at: datetime | None
    attempts: int
    # Why it was not (yet) sent: "no mobile number", "protected identity", "provider answered 503".
    reason: str | None = Field(default=None)


class MessagesOut(BaseModel):
    patient_id: str
    messages: list[MessageOut]


def to_messages_out(patient_id: str, rows: Iterable[MessageRow]) -> MessagesOut:
    return MessagesOut(
        patient_id=patient_id,
        messages=[
            MessageOut(
                message_id=r.message_id,
                booking_id=r.booking_id,
                unit_id=r.unit_id,
                kind=r.kind,
                status=r.status,
                text=shown(r.text),
                due_at=r.due_at,
                sent_at=r.sent_at,
                attempts=r.attempts,
                reason=r.last_error,
            )
            for r in rows
        ],
    )
