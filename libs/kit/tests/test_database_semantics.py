"""The database guarantees the kit relies on, checked on the real server the project starts:
single-document writes are atomic under concurrency (MongoDB's rule; FerretDB 1.24 needs the
project's build patch for it, see deploy/local/ferretdb/vaccinera_atomic.go)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from vaccinera_devstack.infra import Infrastructure
from vaccinera_kit.database import Collection, connect

pytestmark = pytest.mark.infra


@pytest.fixture
async def collection(infra: Infrastructure) -> AsyncIterator[Collection]:
    client = connect(infra.mongo_url)
    name = f"semantics_{uuid.uuid4().hex[:8]}"
    yield client["kit_semantics"][name]
    await client["kit_semantics"].drop_collection(name)
    await client.close()


async def test_concurrent_updates_of_one_document_are_all_kept(collection: Collection) -> None:
    await collection.insert_one({"_id": "doc", "n": 0, "seen": []})
    await asyncio.gather(
        *(collection.update_one({"_id": "doc"}, {"$inc": {"n": 1}}) for _ in range(100)),
        *(collection.update_one({"_id": "doc"}, {"$push": {"seen": i}}) for i in range(100)),
    )
    doc = await collection.find_one({"_id": "doc"})
    assert doc is not None
    assert doc["n"] == 100
    assert sorted(doc["seen"]) == list(range(100))


async def test_a_conditional_update_succeeds_exactly_once_under_contention(
    collection: Collection,
) -> None:
    # The shape of "book this slot if it is free": only one of many racers may win.
    await collection.insert_one({"_id": "slot", "booked_by": None})
    results = await asyncio.gather(
        *(
            collection.update_one(
                {"_id": "slot", "booked_by": None}, {"$set": {"booked_by": f"client-{i}"}}
            )
            for i in range(50)
        )
    )
    assert sum(r.modified_count for r in results) == 1
