"""PyMongo async wiring: one database per service, indexes ensured at start, idempotent writes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

Document = dict[str, Any]
Database = AsyncDatabase[Document]
Collection = AsyncCollection[Document]


@dataclass(frozen=True)
class CollectionSpec:
    """A collection the service owns. ``outbox`` marks aggregates that carry pending events;
    ``transient`` documents exist only to carry events and are deleted once published."""

    name: str
    indexes: Sequence[IndexModel] = field(default_factory=tuple)
    outbox: bool = False
    transient: bool = False


def connect(url: str) -> AsyncMongoClient[Document]:
    # Short selection timeout: /ready must answer quickly when the database is down.
    return AsyncMongoClient(
        url, serverSelectionTimeoutMS=5000, tz_aware=True, uuidRepresentation="standard"
    )


async def ensure_indexes(db: Database, specs: Sequence[CollectionSpec]) -> None:
    from vaccinera_kit.outbox import OUTBOX_PENDING

    for spec in specs:
        indexes = list(spec.indexes)
        if spec.outbox:
            indexes.append(IndexModel([(OUTBOX_PENDING, 1)], name="outbox_pending"))
        # One index per command: FerretDB 1.24 drops the connection when a createIndexes
        # naming several indexes meets ones that already exist (every restart).
        for index in indexes:
            await db[spec.name].create_indexes([index])


def is_duplicate_key(exc: PyMongoError) -> bool:
    """A unique index said no. FerretDB 1.24 reports it on updates as an InternalError naming
    the SQLite UNIQUE constraint instead of code 11000."""
    return isinstance(exc, DuplicateKeyError) or (
        isinstance(exc, OperationFailure) and "UNIQUE constraint failed" in str(exc)
    )


async def apply_once(
    collection: Collection,
    key: Mapping[str, Any],
    event_id: str,
    update: Mapping[str, Any],
    *,
    upsert: bool = True,
) -> bool:
    """Apply ``update`` to one document unless it already recorded ``event_id``.

    The processed event id is written in the same single-document update as the effect
    (FerretDB has no multi-document transactions), so a redelivered event has no second
    effect. Returns False when the event had already been applied.
    """
    merged = {op: dict(fields) for op, fields in update.items()}
    # No "$slice" bound: FerretDB 1.x silently ignores it. Documents that receive many events
    # should key their effects by event id instead.
    merged.setdefault("$push", {})["_inbox"] = event_id
    try:
        result = await collection.update_one(
            {**key, "_inbox": {"$ne": event_id}}, merged, upsert=upsert
        )
    except DuplicateKeyError:
        # The upsert collided with the existing document, which already holds event_id.
        return False
    return result.matched_count > 0 or result.upserted_id is not None
