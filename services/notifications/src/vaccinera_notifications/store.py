"""Notifications' repository.

- ``contacts``: projection of identity's events, the mobile number to text; never kept for a
  protected patient (ID-3, NT-2).
- ``bookings``: projection of booking's events, just enough to tell whether a reminder still
  fits its booking (start, cancelled).
- ``messages``: one document per text message, keyed by a deterministic id derived from its
  trigger, so it exists at most once (NT-4); the sender claims due ones atomically.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_kit.database import CollectionSpec, Database, Document, apply_once, is_duplicate_key
from vaccinera_notifications.domain import BookingState, Contact, Message

CONTACTS = "contacts"
BOOKINGS = "bookings"
MESSAGES = "messages"

COLLECTIONS = (
    CollectionSpec(CONTACTS),
    CollectionSpec(BOOKINGS),
    CollectionSpec(
        MESSAGES,
        indexes=(
            IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)], name="due"),
            IndexModel([("patient_id", ASCENDING), ("due_at", ASCENDING)], name="by_patient"),
            IndexModel([("booking_id", ASCENDING), ("kind", ASCENDING)], name="by_booking"),
        ),
    ),
)
PUBLISHES: tuple[type[DomainEvent], ...] = ()


class ContactProjection:
    def __init__(self, db: Database) -> None:
        self.collection = db[CONTACTS]

    async def apply(self, patient_id: str, event_id: str, update: dict[str, Any]) -> bool:
        return await apply_once(self.collection, {"_id": patient_id}, event_id, update)

    async def get(self, patient_id: str) -> dict[str, Any] | None:
        return await self.collection.find_one({"_id": patient_id}, {"_inbox": 0})

    async def contact(self, patient_id: str) -> Contact | None:
        doc = await self.collection.find_one({"_id": patient_id}, {"mobile": 1, "protected": 1})
        if doc is None:
            return None
        return Contact(mobile=doc.get("mobile"), protected=bool(doc.get("protected")))


class BookingProjection:
    """Each booking's current start and whether it is cancelled. Events of one patient arrive
    in order (keyed by patient id); ``at`` (the event's time) still keeps a late duplicate of
    an older event from moving a booking back."""

    def __init__(self, db: Database) -> None:
        self.collection = db[BOOKINGS]

    async def scheduled(
        self, booking_id: str, patient_id: str, start: datetime, at: datetime
    ) -> None:
        try:
            await self.collection.insert_one(
                {
                    "_id": booking_id,
                    "patient_id": patient_id,
                    "start": start,
                    "cancelled": False,
                    "at": at,
                }
            )
        except DuplicateKeyError:
            # Known already: move it, unless it is cancelled or this event is older.
            await self.collection.update_one(
                {"_id": booking_id, "cancelled": False, "at": {"$lt": at}},
                {"$set": {"start": start, "at": at}},
            )

    async def cancelled(self, booking_id: str, patient_id: str, at: datetime) -> None:
        try:
            await self.collection.update_one(
                {"_id": booking_id},
                {
                    "$set": {"cancelled": True, "at": at},
                    "$setOnInsert": {"patient_id": patient_id, "start": None},
                },
                upsert=True,
            )
        except PyMongoError as exc:
            # Two replicas upserting the same cancellation: the other one wrote it.
            if not is_duplicate_key(exc):
                raise

    async def get(self, booking_id: str) -> BookingState | None:
        doc = await self.collection.find_one({"_id": booking_id})
        if doc is None:
            return None
        return BookingState(start=doc.get("start"), cancelled=bool(doc.get("cancelled")))


@dataclass(frozen=True)
class Claimed:
    message: Message
    attempt: int  # 1 for the first try
    trace: dict[str, str]  # trace context of the trigger


# A message the sender may claim: due and scheduled, or claimed by a replica that never
# finished within its lease (it crashed).
def _claimable(now: datetime) -> dict[str, Any]:
    return {
        "$or": [
            {"status": "scheduled", "due_at": {"$lte": now}, "next_attempt_at": {"$lte": now}},
            {"status": "sending", "claimed_until": {"$lt": now}},
        ]
    }


class MessageStore:
    def __init__(self, db: Database) -> None:
        self.collection = db[MESSAGES]

    async def add(self, messages: Iterable[Message], trace: Mapping[str, str]) -> list[Message]:
        """Insert the messages not there yet; returns those this call inserted. A duplicate
        id means the same trigger was handled before (redelivery, another replica)."""
        inserted = []
        for message in messages:
            with contextlib.suppress(DuplicateKeyError):
                await self.collection.insert_one(_document(message, trace))
                inserted.append(message)
        return inserted

    async def withdraw_reminders(self, booking_id: str, reason: str, *, keep_event: str) -> int:
        """Withdraw the booking's scheduled reminders, except those ``keep_event`` created (so a
        redelivered rebooking does not withdraw its own new reminders)."""
        result = await self.collection.update_many(
            {
                "booking_id": booking_id,
                "kind": "reminder",
                "status": "scheduled",
                "event_id": {"$ne": keep_event},
            },
            {"$set": {"status": "withdrawn", "last_error": reason}},
        )
        return result.modified_count

    async def withdraw_patient(self, patient_id: str, reason: str) -> int:
        result = await self.collection.update_many(
            {"patient_id": patient_id, "status": "scheduled"},
            {"$set": {"status": "withdrawn", "last_error": reason}},
        )
        return result.modified_count

    async def for_patient(self, patient_id: str, limit: int = 500) -> list[Document]:
        return (
            await self.collection.find({"patient_id": patient_id}, sort=[("due_at", ASCENDING)])
            .limit(limit)
            .to_list()
        )

    async def get(self, message_id: str) -> Document | None:
        return await self.collection.find_one({"_id": message_id})

    # --- the sender's side -------------------------------------------------------------------

    async def due(self, now: datetime, limit: int) -> list[str]:
        """Ids of messages that may be claimed now (one read; claiming is per id)."""
        docs = await self.collection.find(_claimable(now), {"_id": 1}, limit=limit).to_list()
        return [str(d["_id"]) for d in docs]

    async def claim(
        self, message_id: str, owner: str, now: datetime, lease: timedelta
    ) -> Claimed | None:
        """Atomically take this message for sending if it is still claimable (``scheduled``
        and due, or ``sending`` with its lease run out), marking it ``sending`` for ``owner``;
        None if another replica was first. The condition and the update are one operation,
        found by id so the database does not scan for it."""
        doc = await self.collection.find_one_and_update(
            {"_id": message_id, **_claimable(now)},
            {
                "$set": {"status": "sending", "claimed_by": owner, "claimed_until": now + lease},
                "$inc": {"attempts": 1},
            },
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        trace = {"traceparent": doc["traceparent"]} if doc.get("traceparent") else {}
        return Claimed(_message(doc), int(doc["attempts"]), trace)

    async def finish(self, message_id: str, owner: str, fields: Mapping[str, Any]) -> bool:
        """Record the outcome, if this replica still holds the claim."""
        result = await self.collection.update_one(
            {"_id": message_id, "status": "sending", "claimed_by": owner},
            {"$set": dict(fields), "$unset": {"claimed_by": "", "claimed_until": ""}},
        )
        return result.modified_count == 1

    async def release(self, message_id: str, owner: str, until: datetime) -> bool:
        """Put a claimed message back, not counting it as an attempt (nothing was sent)."""
        result = await self.collection.update_one(
            {"_id": message_id, "status": "sending", "claimed_by": owner},
            {
                "$set": {"status": "scheduled", "next_attempt_at": until},
                "$unset": {"claimed_by": "", "claimed_until": ""},
                "$inc": {"attempts": -1},
            },
        )
        return result.modified_count == 1


def _document(message: Message, trace: Mapping[str, str]) -> Document:
    # Fields appear once they have a value: FerretDB decodes every field of every document on
    # each write to the collection, so lean documents keep the sender fast.
    doc: Document = {
        "_id": message.message_id,
        "event_id": message.event_id,
        "patient_id": message.patient_id,
        "booking_id": message.booking_id,
        "kind": message.kind,
        "text": message.text,
        "due_at": message.due_at,
        "created_at": message.created_at,
        "status": "scheduled",
        "attempts": 0,
        "next_attempt_at": message.due_at,
    }
    if message.visit_start is not None:
        doc["visit_start"] = message.visit_start
    if trace.get("traceparent"):
        # The trigger's trace context: the send joins the booking's trace.
        doc["traceparent"] = trace["traceparent"]
    return doc


def _message(doc: Document) -> Message:
    return Message(
        message_id=doc["_id"],
        event_id=doc["event_id"],
        patient_id=doc["patient_id"],
        booking_id=doc["booking_id"],
        kind=doc["kind"],
        text=doc["text"],
        due_at=doc["due_at"],
        created_at=doc["created_at"],
        visit_start=doc.get("visit_start"),
    )
