"""Identity's repository: one document per patient, written with its events (outbox) in one
single-document write, with optimistic concurrency on ``version``; the append-only access log."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from pymongo import DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.events import (
    AccessRecorded,
    Block,
    BlocksChanged,
    Consent,
    ConsentsChanged,
    ContactDetailsChanged,
    IdentifierChanged,
    PatientRegistered,
    ProtectionChanged,
)
from vaccinera_contracts.identifiers import IdentifierKind, PatientIdentifier
from vaccinera_identity.domain import Contact, Patient, PostalAddress
from vaccinera_kit.database import CollectionSpec, Database, is_duplicate_key
from vaccinera_kit.errors import Conflict
from vaccinera_kit.outbox import Outbox

PATIENTS = "patients"
ACCESS_LOG = "access_log"
COUNTERS = "counters"

COLLECTIONS = (
    CollectionSpec(
        PATIENTS,
        indexes=(IndexModel([("identifier.value", 1)], unique=True, name="identifier_unique"),),
        outbox=True,
    ),
    CollectionSpec(
        ACCESS_LOG,
        indexes=(IndexModel([("patient_id", 1), ("at", DESCENDING)], name="by_patient"),),
    ),
    CollectionSpec(COUNTERS),
)
PUBLISHES: tuple[type[DomainEvent], ...] = (
    PatientRegistered,
    IdentifierChanged,
    ProtectionChanged,
    ContactDetailsChanged,
    BlocksChanged,
    ConsentsChanged,
)


class PatientStore:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.patients = db[PATIENTS]
        self.counters = db[COUNTERS]
        self.outbox = outbox

    async def add(self, patient: Patient, extra_events: Sequence[DomainEvent] = ()) -> bool:
        """Insert a new patient with its events; False if the identifier is already known."""
        doc = self.outbox.new_document(
            {"_id": patient.patient_id, **_state(patient), "version": 1},
            [*patient.events, *extra_events],
        )
        try:
            await self.patients.insert_one(doc)
        except DuplicateKeyError:
            return False
        patient.version, patient.events = 1, []
        self.outbox.committed()
        return True

    async def save(self, patient: Patient, extra_events: Sequence[DomainEvent] = ()) -> None:
        """Write the changed state and its events, if nobody changed the patient meanwhile."""
        events = [*patient.events, *extra_events]
        try:
            result = await self.patients.update_one(
                {"_id": patient.patient_id, "version": patient.version},
                self.outbox.update(
                    {"$set": {**_state(patient), "version": patient.version + 1}}, events
                ),
            )
        except PyMongoError as exc:
            if not is_duplicate_key(exc):
                raise
            raise Conflict(
                "Another patient already has this identifier.", code="identifier_taken"
            ) from exc
        if result.matched_count == 0:
            raise Conflict(
                "The patient was changed by someone else meanwhile. Reload and try again.",
                code="concurrent_change",
            )
        patient.version += 1
        patient.events = []
        self.outbox.committed()

    async def get(self, patient_id: str) -> Patient | None:
        doc = await self.patients.find_one({"_id": patient_id})
        return _patient(doc) if doc else None

    async def by_identifier(self, value: str) -> Patient | None:
        doc = await self.patients.find_one({"identifier.value": value})
        return _patient(doc) if doc else None

    async def next_reserve_sequence(self) -> int:
        doc = await self.counters.find_one_and_update(
            {"_id": "reserve_numbers"},
            {"$inc": {"value": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        return int(doc["value"])


class AccessLogStore:
    """Append-only: entries are inserted once (keyed by event id) and never changed (ID-7)."""

    def __init__(self, db: Database) -> None:
        self.collection = db[ACCESS_LOG]

    async def append(self, event_id: str, entry: AccessRecorded) -> None:
        with contextlib.suppress(DuplicateKeyError):  # redelivered: already in the log
            await self.collection.insert_one({"_id": event_id, **entry.model_dump()})

    async def for_patient(self, patient_id: str, limit: int) -> list[AccessRecorded]:
        docs = await self.collection.find(
            {"patient_id": patient_id}, sort=[("at", DESCENDING)], limit=limit
        ).to_list()
        return [
            AccessRecorded.model_validate({k: v for k, v in d.items() if k != "_id"}) for d in docs
        ]


def _state(patient: Patient) -> dict[str, Any]:
    c = patient.contact
    return {
        "identifier": {"kind": patient.identifier.kind.value, "value": patient.identifier.value},
        "protected": patient.protected,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "registered_at": patient.registered_at,
        "contact": {
            "mobile": c.mobile,
            "email": c.email,
            "address": vars(c.address) if c.address else None,
        },
        "blocks": [b.model_dump() for b in patient.blocks],
        "consents": [x.model_dump() for x in patient.consents],
    }


def _patient(doc: dict[str, Any]) -> Patient:
    contact = doc.get("contact") or {}
    address = contact.get("address")
    return Patient(
        patient_id=doc["_id"],
        identifier=PatientIdentifier(
            kind=IdentifierKind(doc["identifier"]["kind"]), value=doc["identifier"]["value"]
        ),
        protected=doc["protected"],
        given_name=doc["given_name"],
        family_name=doc["family_name"],
        registered_at=doc["registered_at"],
        contact=Contact(
            mobile=contact.get("mobile"),
            email=contact.get("email"),
            address=PostalAddress(**address) if address else None,
        ),
        blocks=[Block.model_validate(b) for b in doc.get("blocks", [])],
        consents=[Consent.model_validate(x) for x in doc.get("consents", [])],
        version=doc["version"],
    )
