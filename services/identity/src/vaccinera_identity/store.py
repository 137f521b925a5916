"""Identity's repository: patients in ``patients``, each write carrying its events (outbox)."""

from __future__ import annotations

from typing import Any

from pymongo import IndexModel
from pymongo.errors import DuplicateKeyError

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.events import PatientRegistered
from vaccinera_contracts.identifiers import IdentifierKind, PatientIdentifier
from vaccinera_identity.domain import Patient
from vaccinera_kit.database import CollectionSpec, Database
from vaccinera_kit.outbox import Outbox

PATIENTS = "patients"

COLLECTIONS = (
    CollectionSpec(
        PATIENTS,
        indexes=(IndexModel([("identifier.value", 1)], unique=True, name="identifier_unique"),),
        outbox=True,
    ),
)
PUBLISHES: tuple[type[DomainEvent], ...] = (PatientRegistered,)


class PatientStore:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.collection = db[PATIENTS]
        self.outbox = outbox

    async def add(self, patient: Patient) -> Patient | None:
        """Insert a new patient with its events; None if the identifier is already known."""
        doc = self.outbox.new_document(_to_document(patient), patient.events)
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            return None
        self.outbox.committed()
        return patient

    async def get(self, patient_id: str) -> Patient | None:
        doc = await self.collection.find_one({"_id": patient_id})
        return _from_document(doc) if doc else None

    async def by_identifier(self, identifier: PatientIdentifier) -> Patient | None:
        doc = await self.collection.find_one({"identifier.value": identifier.value})
        return _from_document(doc) if doc else None


def _to_document(patient: Patient) -> dict[str, Any]:
    return {
        "_id": patient.patient_id,
        "identifier": {"kind": patient.identifier.kind.value, "value": patient.identifier.value},
        "protected": patient.protected,
        "registered_at": patient.registered_at,
    }


def _from_document(doc: dict[str, Any]) -> Patient:
    return Patient(
        patient_id=doc["_id"],
        identifier=PatientIdentifier(
            kind=IdentifierKind(doc["identifier"]["kind"]), value=doc["identifier"]["value"]
        ),
        protected=doc["protected"],
        registered_at=doc["registered_at"],
    )
