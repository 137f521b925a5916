"""Notifications' repository. ``contacts`` is a projection of identity's events: the mobile
number to text, never kept for a protected patient (ID-3, NT-2)."""

from __future__ import annotations

from typing import Any

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_kit.database import CollectionSpec, Database, apply_once

CONTACTS = "contacts"

COLLECTIONS = (CollectionSpec(CONTACTS),)
PUBLISHES: tuple[type[DomainEvent], ...] = ()


class ContactProjection:
    def __init__(self, db: Database) -> None:
        self.collection = db[CONTACTS]

    async def apply(self, patient_id: str, event_id: str, update: dict[str, Any]) -> bool:
        return await apply_once(self.collection, {"_id": patient_id}, event_id, update)

    async def get(self, patient_id: str) -> dict[str, Any] | None:
        return await self.collection.find_one({"_id": patient_id}, {"_inbox": 0})
