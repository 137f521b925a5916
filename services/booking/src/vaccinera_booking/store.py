"""Booking's repository over PyMongo.

No double booking (BK-4) rests on one atomic primitive: a booking document holds the id of the
slot it occupies in ``active_slot``, under a unique index. Inserting a booking (or moving one)
either takes the slot or fails with a duplicate key, whoever else is racing for it; the
booking's events ride in the same document write (outbox). Cancelling removes ``active_slot``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from vaccinera_booking.domain import SlotSpec, slot_key
from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.events import (
    ArrivalRegistered,
    BookingCancelled,
    BookingCreated,
    BookingRebooked,
    HealthDeclarationSubmitted,
)
from vaccinera_kit.database import CollectionSpec, Database, apply_once, is_duplicate_key
from vaccinera_kit.outbox import Outbox

PATIENTS = "patients"
TIME_BOOKS = "time_books"
SLOTS = "slots"
BOOKINGS = "bookings"
DECLARATIONS = "declarations"
QUESTIONNAIRES = "questionnaires"
MASS_CANCELLATIONS = "mass_cancellations"

COLLECTIONS = (
    CollectionSpec(PATIENTS, indexes=(IndexModel([("identifier.value", 1)], name="identifier"),)),
    CollectionSpec(TIME_BOOKS, indexes=(IndexModel([("unit_id", 1)], name="unit"),)),
    CollectionSpec(
        SLOTS, indexes=(IndexModel([("time_book_id", 1), ("start", 1)], name="time_book_start"),)
    ),
    CollectionSpec(
        BOOKINGS,
        indexes=(
            IndexModel([("active_slot", ASCENDING)], unique=True, name="one_booking_per_slot"),
            IndexModel([("reference", ASCENDING)], unique=True, name="reference"),
            IndexModel([("patient_id", 1)], name="patient"),
            IndexModel([("time_book_id", 1), ("start", 1)], name="time_book_start"),
        ),
        outbox=True,
    ),
    CollectionSpec(
        DECLARATIONS, indexes=(IndexModel([("booking_id", 1)], name="booking"),), outbox=True
    ),
    CollectionSpec(QUESTIONNAIRES),
    CollectionSpec(MASS_CANCELLATIONS),
)
PUBLISHES: tuple[type[DomainEvent], ...] = (
    BookingCreated,
    BookingRebooked,
    BookingCancelled,
    ArrivalRegistered,
    HealthDeclarationSubmitted,
)

Doc = dict[str, Any]


class PatientProjection:
    def __init__(self, db: Database) -> None:
        self.collection = db[PATIENTS]

    async def record(self, patient_id: str, event_id: str, fields: dict[str, Any]) -> bool:
        return await apply_once(self.collection, {"_id": patient_id}, event_id, {"$set": fields})

    async def get(self, patient_id: str) -> Doc | None:
        return await self.collection.find_one({"_id": patient_id}, {"_inbox": 0})

    async def by_identifier(self, value: str) -> Doc | None:
        return await self.collection.find_one({"identifier.value": value}, {"_inbox": 0})

    async def learn(self, patient_id: str, fields: dict[str, Any]) -> None:
        """A patient learnt from identity directly (a citizen booking before the event came)."""
        await self.collection.update_one({"_id": patient_id}, {"$setOnInsert": fields}, upsert=True)


class TimeBookStore:
    def __init__(self, db: Database) -> None:
        self.collection = db[TIME_BOOKS]

    async def add(self, doc: Doc) -> None:
        await self.collection.insert_one(doc)

    async def get(self, time_book_id: str) -> Doc | None:
        return await self.collection.find_one({"_id": time_book_id})

    async def for_unit(self, unit_id: str) -> list[Doc]:
        return await self.collection.find({"unit_id": unit_id}, sort=[("name", 1)]).to_list()

    async def replace_visit_types(self, doc: Doc, visit_types: list[Doc]) -> bool:
        """Optimistic: only if nobody changed the time book meanwhile."""
        result = await self.collection.update_one(
            {"_id": doc["_id"], "version": doc["version"]},
            {"$set": {"visit_types": visit_types}, "$inc": {"version": 1}},
        )
        return result.matched_count == 1

    async def set_note(self, time_book_id: str, day: str, text: str, by: str) -> None:
        await self.collection.update_one(
            {"_id": time_book_id}, {"$set": {f"notes.{day}": {"text": text, "by": by}}}
        )

    async def add_time_block(self, time_book_id: str, block: Doc) -> None:
        await self.collection.update_one({"_id": time_book_id}, {"$push": {"time_blocks": block}})


class SlotStore:
    def __init__(self, db: Database) -> None:
        self.collection = db[SLOTS]

    async def in_range(
        self, time_book_id: str, start: datetime, end: datetime, resource: str | None = None
    ) -> list[Doc]:
        query: Doc = {"time_book_id": time_book_id, "start": {"$gte": start, "$lt": end}}
        if resource is not None:
            query["resource"] = resource
        return await self.collection.find(query, sort=[("start", 1), ("column", 1)]).to_list()

    async def open(self, time_book_id: str, unit_id: str, slots: Sequence[SlotSpec]) -> int:
        docs = [
            {
                "_id": s.key(time_book_id),
                "time_book_id": time_book_id,
                "unit_id": unit_id,
                "resource": s.resource,
                "column": s.column,
                "start": s.start,
                "end": s.end,
                "status": "open",
            }
            for s in slots
        ]
        for i in range(0, len(docs), 1000):
            await self.collection.insert_many(docs[i : i + 1000], ordered=False)
        return len(docs)

    async def at(
        self, time_book_id: str, resource: str, start: datetime, columns: int
    ) -> list[Doc]:
        """The open slots at ``start``, column 1 first, each found by its id."""
        found = []
        for column in range(1, columns + 1):
            doc = await self.collection.find_one(
                {"_id": slot_key(time_book_id, resource, column, start)}
            )
            if doc is not None and doc["status"] == "open":
                found.append(doc)
        return found

    async def set_status(self, ids: Sequence[str], status: str, label: str | None = None) -> None:
        if ids:
            await self.collection.update_many(
                {"_id": {"$in": list(ids)}}, {"$set": {"status": status, "label": label}}
            )


class BookingStore:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.collection = db[BOOKINGS]
        self.outbox = outbox

    async def take(self, doc: Doc, events: Sequence[DomainEvent]) -> bool:
        """Insert a booking that occupies ``doc["active_slot"]``; False if it is taken."""
        try:
            await self.collection.insert_one(self.outbox.new_document(doc, events))
        except DuplicateKeyError:
            return False
        self.outbox.committed()
        return True

    async def move(self, doc: Doc, changes: Doc, events: Sequence[DomainEvent]) -> bool:
        """Move an active booking to another slot; False if that slot is taken."""
        try:
            result = await self.collection.update_one(
                {"_id": doc["_id"], "status": "booked", "version": doc["version"]},
                self.outbox.update({"$set": changes, "$inc": {"version": 1}}, events),
            )
        except PyMongoError as exc:
            if is_duplicate_key(exc):
                return False
            raise
        if result.matched_count == 0:
            raise StaleBooking
        self.outbox.committed()
        return True

    async def change(self, doc: Doc, update: Doc, events: Sequence[DomainEvent]) -> Doc | None:
        """Apply ``update`` to an active booking unless it changed meanwhile."""
        updated = await self.collection.find_one_and_update(
            {"_id": doc["_id"], "status": "booked", "version": doc["version"]},
            self.outbox.update({**update, "$inc": {"version": 1}}, events),
            return_document=ReturnDocument.AFTER,
        )
        if updated is None:
            raise StaleBooking
        self.outbox.committed()
        return updated

    async def get(self, booking_id: str) -> Doc | None:
        return await self.collection.find_one({"_id": booking_id}, {"_outbox": 0})

    async def by_reference(self, reference: str) -> Doc | None:
        return await self.collection.find_one({"reference": reference}, {"_outbox": 0})

    async def count_code_failure(self, booking_id: str) -> None:
        await self.collection.update_one({"_id": booking_id}, {"$inc": {"code_failures": 1}})

    async def for_patient(self, patient_id: str, unit_id: str | None) -> list[Doc]:
        query: Doc = {"patient_id": patient_id}
        if unit_id is not None:
            query["unit_id"] = unit_id
        return await self.collection.find(query, {"_outbox": 0}, sort=[("start", 1)]).to_list()

    async def active_slots(self, slot_ids: Sequence[str]) -> set[str]:
        if not slot_ids:
            return set()
        docs = await self.collection.find(
            {"active_slot": {"$in": list(slot_ids)}}, {"active_slot": 1}
        ).to_list()
        return {d["active_slot"] for d in docs}

    async def active_in_range(self, time_book_id: str, start: datetime, end: datetime) -> list[Doc]:
        return await self.collection.find(
            {
                "time_book_id": time_book_id,
                "status": "booked",
                "start": {"$gte": start, "$lt": end},
            },
            {"_outbox": 0},
            sort=[("start", 1)],
        ).to_list()

    async def future_with_visit_type(self, visit_type_id: str, now: datetime) -> list[Doc]:
        return await self.collection.find(
            {"visit_type_id": visit_type_id, "status": "booked", "start": {"$gt": now}},
            {"_outbox": 0},
            sort=[("start", 1)],
        ).to_list()


class DeclarationStore:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.declarations = db[DECLARATIONS]
        self.questionnaires = db[QUESTIONNAIRES]
        self.outbox = outbox

    async def add(self, doc: Doc, events: Sequence[DomainEvent]) -> None:
        await self.declarations.insert_one(self.outbox.new_document(doc, events))
        self.outbox.committed()

    async def for_booking(self, booking_id: str) -> Doc | None:
        return await self.declarations.find_one({"booking_id": booking_id}, {"_outbox": 0})

    async def questionnaire(self, unit_id: str) -> Doc | None:
        return await self.questionnaires.find_one({"_id": unit_id})

    async def set_questionnaire(self, unit_id: str, questions: list[Doc], by: str) -> int:
        doc = await self.questionnaires.find_one_and_update(
            {"_id": unit_id},
            {"$set": {"questions": questions, "changed_by": by}, "$inc": {"version": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        return int(doc["version"])


class StaleBooking(Exception):
    """The booking changed (or was cancelled) while this request worked on it."""
