"""Booking's repository. ``patients`` is a projection of identity's events: what booking needs
to decide who may book online, and to match a citizen's login to a patient."""

from __future__ import annotations

from typing import Any

from pymongo import IndexModel

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_kit.database import CollectionSpec, Database, apply_once

PATIENTS = "patients"

COLLECTIONS = (
    CollectionSpec(PATIENTS, indexes=(IndexModel([("identifier.value", 1)], name="identifier"),)),
)
PUBLISHES: tuple[type[DomainEvent], ...] = ()


class PatientProjection:
    def __init__(self, db: Database) -> None:
        self.collection = db[PATIENTS]

    async def record(self, patient_id: str, event_id: str, fields: dict[str, Any]) -> bool:
        return await apply_once(self.collection, {"_id": patient_id}, event_id, {"$set": fields})

    async def get(self, patient_id: str) -> dict[str, Any] | None:
        return await self.collection.find_one({"_id": patient_id}, {"_inbox": 0})
