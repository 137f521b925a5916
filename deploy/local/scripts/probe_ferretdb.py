"""Probe which MongoDB features the devstack's FerretDB supports (source of FERRETDB_NOTES.md).

Run: cd /work/main && uv run python deploy/local/scripts/probe_ferretdb.py
Starts its own FerretDB on a free port in a temp dir and prints a markdown table.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient, InsertOne, ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from vaccinera_devstack.ferretdb import FerretDBServer
from vaccinera_devstack.process import free_port

Doc = dict[str, Any]
Coll = AsyncCollection[Doc]


async def push_each_slice(c: Coll) -> str:
    await c.insert_one({"_id": 1, "arr": [1, 2, 3]})
    await c.update_one({"_id": 1}, {"$push": {"arr": {"$each": [4, 5, 6], "$slice": -4}}})
    doc = await c.find_one({"_id": 1})
    assert doc is not None
    if doc["arr"] == [1, 2, 3, 4, 5, 6]:
        return "WRONG: `$each` appends but `$slice` is silently ignored (array not trimmed)"
    assert doc["arr"] == [3, 4, 5, 6], doc
    return "ok"


async def pull_condition(c: Coll) -> str:
    items = [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 9}, {"sku": "c", "qty": 3}]
    await c.insert_one({"_id": 1, "items": items})
    result = await c.update_one({"_id": 1}, {"$pull": {"items": {"qty": {"$lt": 5}}}})
    doc = await c.find_one({"_id": 1})
    assert doc is not None
    if doc["items"] == items:
        exact = await c.update_one({"_id": 1}, {"$pull": {"items": {"sku": "a", "qty": 1}}})
        return (
            f"WRONG: silently removes nothing (nModified={result.modified_count}); "
            f"only exact whole-subdocument/value matches are pulled "
            f"(exact match nModified={exact.modified_count})"
        )
    assert doc["items"] == [{"sku": "b", "qty": 9}], doc
    return "ok"


async def add_to_set(c: Coll) -> str:
    await c.insert_one({"_id": 1, "tags": ["a"]})
    await c.update_one({"_id": 1}, {"$addToSet": {"tags": "a"}})
    await c.update_one({"_id": 1}, {"$addToSet": {"tags": {"$each": ["b", "a", "c"]}}})
    doc = await c.find_one({"_id": 1})
    assert doc is not None
    assert doc["tags"] == ["a", "b", "c"], doc
    return "ok (incl. `$each`)"


async def inc(c: Coll) -> str:
    await c.insert_one({"_id": 1, "n": 1})
    await c.update_one({"_id": 1}, {"$inc": {"n": 2, "m": 5}})
    doc = await c.find_one({"_id": 1})
    assert doc is not None
    assert (doc["n"], doc["m"]) == (3, 5), doc
    return "ok (creates missing fields)"


async def find_one_and_update_upsert(c: Coll) -> str:
    first = await c.find_one_and_update(
        {"_id": "k"},
        {"$inc": {"n": 1}, "$setOnInsert": {"created": True}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    second = await c.find_one_and_update(
        {"_id": "k"}, {"$inc": {"n": 1}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    assert first == {"_id": "k", "n": 1, "created": True}, first
    assert second is not None
    assert second["n"] == 2, second
    return "ok"


async def unique_index(c: Coll) -> str:
    await c.create_index("email", unique=True)
    await c.insert_one({"email": "a@x"})
    try:
        await c.insert_one({"email": "a@x"})
    except DuplicateKeyError as exc:
        return f"ok (`DuplicateKeyError`, code {exc.code})"
    raise AssertionError("duplicate accepted")


async def partial_index(c: Coll) -> str:
    await c.create_index(
        "email", unique=True, partialFilterExpression={"active": True}, name="email_active"
    )
    indexes = await c.index_information()
    assert "partialFilterExpression" in indexes["email_active"], indexes
    await c.insert_one({"email": "a@x", "active": False})
    await c.insert_one({"email": "a@x", "active": False})
    await c.insert_one({"email": "a@x", "active": True})
    try:
        await c.insert_one({"email": "a@x", "active": True})
    except DuplicateKeyError:
        return "ok (enforced only where the filter matches)"
    raise AssertionError("partial unique index not enforced")


async def sparse_index(c: Coll) -> str:
    await c.create_index("nick", unique=True, sparse=True)
    sparse_kept = (await c.index_information())["nick_1"].get("sparse") is True
    await c.insert_one({"x": 1})
    await c.insert_one({"x": 2})  # two docs without the field must both be allowed
    await c.insert_one({"nick": "n"})
    try:
        await c.insert_one({"nick": "n"})
    except DuplicateKeyError:
        pass
    else:
        raise AssertionError("sparse unique index not enforced")
    plain = c.database[f"{c.name}_plain"]
    await plain.create_index("nick", unique=True)
    await plain.insert_one({"x": 1})
    try:
        await plain.insert_one({"x": 2})
        missing = "a plain unique index also lets many docs lack the field (MongoDB: 11000)"
    except DuplicateKeyError:
        missing = "plain unique index rejects a 2nd doc lacking the field, as MongoDB does"
    if sparse_kept:
        return f"ok; {missing}"
    return f"accepted, `sparse` dropped from the index spec, behaves sparse anyway: {missing}"


async def ne_on_array(c: Coll) -> str:
    await c.insert_many([{"_id": 1, "tags": ["a", "b"]}, {"_id": 2, "tags": ["b"]}, {"_id": 3}])
    ids = sorted([doc["_id"] async for doc in c.find({"tags": {"$ne": "a"}})])
    assert ids == [2, 3], ids
    return "ok (no element equal; missing field matches)"


async def size_zero(c: Coll) -> str:
    await c.insert_many([{"_id": 1, "arr": []}, {"_id": 2, "arr": [1]}, {"_id": 3}])
    ids = [doc["_id"] async for doc in c.find({"arr": {"$size": 0}})]
    assert ids == [1], ids
    return "ok"


async def unset(c: Coll) -> str:
    await c.insert_one({"_id": 1, "a": 1, "b": {"c": 1, "d": 2}})
    await c.update_one({"_id": 1}, {"$unset": {"a": "", "b.c": ""}})
    doc = await c.find_one({"_id": 1})
    assert doc == {"_id": 1, "b": {"d": 2}}, doc
    return "ok (incl. dotted path)"


async def set_on_insert(c: Coll) -> str:
    update = {"$setOnInsert": {"created": 1}, "$set": {"seen": True}}
    await c.update_one({"_id": 1}, update, upsert=True)
    await c.update_one({"_id": 1}, {"$setOnInsert": {"created": 2}}, upsert=True)
    doc = await c.find_one({"_id": 1})
    assert doc == {"_id": 1, "created": 1, "seen": True}, doc
    return "ok"


async def bulk_unordered(c: Coll) -> str:
    await c.insert_one({"_id": 1})
    ops: list[InsertOne[Doc] | UpdateOne] = [
        InsertOne({"_id": 1}),
        InsertOne({"_id": 2}),
        UpdateOne({"_id": 3}, {"$set": {"v": 1}}, upsert=True),
    ]
    try:
        await c.bulk_write(ops, ordered=False)
    except BulkWriteError as exc:
        codes = [error["code"] for error in exc.details["writeErrors"]]
    else:
        raise AssertionError("duplicate in bulk not reported")
    assert await c.count_documents({}) == 3
    return f"ok (continues past a dup; `BulkWriteError` write error codes {codes})"


async def count_documents(c: Coll) -> str:
    await c.insert_many([{"k": i % 3} for i in range(10)])
    assert await c.count_documents({}) == 10
    assert await c.count_documents({"k": 1}) == 3
    return "ok"


async def aggregate(c: Coll) -> str:
    await c.insert_many([{"k": i % 3, "v": i, "ok": i != 4} for i in range(10)])
    match: Doc = {"$match": {"ok": True}}
    single: list[Doc] = [
        match,
        {"$group": {"_id": "$k", "total": {"$sum": "$v"}}},
        {"$sort": {"total": -1}},
    ]
    rows = [row async for row in await c.aggregate(single)]
    assert rows == [{"_id": 0, "total": 18}, {"_id": 2, "total": 15}, {"_id": 1, "total": 8}]
    double: list[Doc] = [match, {"$group": {"_id": "$k", "t": {"$sum": "$v"}, "n": {"$sum": 1}}}]
    counts = sorted([row["n"] async for row in await c.aggregate(double)])
    try:
        await c.aggregate([{"$group": {"_id": "$k", "m": {"$max": "$v"}}}])
        has_max = True
    except OperationFailure:
        has_max = False
    if counts != [2, 3, 4]:
        return (
            "partly: one accumulator per `$group` is right; with two or more, every accumulator "
            f"after the first returns 0 (got n={counts}); only `$sum`/`$count` exist"
            + ("" if has_max else " (`$max` etc. NotImplemented)")
        )
    return "ok"


async def conditional_update_throughput(c: Coll) -> str:
    docs, tasks, per_task = 200, 50, 40
    await c.insert_many([{"_id": i, "version": 0} for i in range(docs)])

    async def blind(seed: int) -> None:
        # A guarded single-document update, e.g. "decrement stock only if still positive".
        for step in range(per_task):
            key = (seed * 7 + step * 13) % docs
            await c.update_one(
                {"_id": key, "version": {"$lt": 1_000_000}}, {"$inc": {"version": 1}}
            )

    async def read_then_cas(seed: int) -> None:
        # Optimistic concurrency: read the version, update only if it is unchanged.
        for step in range(per_task):
            key = (seed * 7 + step * 13) % docs
            doc = await c.find_one({"_id": key}, {"version": 1})
            assert doc is not None
            await c.update_one({"_id": key, "version": doc["version"]}, {"$inc": {"version": 1}})

    rates = []
    for worker in (blind, read_then_cas):
        started = time.perf_counter()
        await asyncio.gather(*(worker(seed) for seed in range(tasks)))
        rates.append(tasks * per_task / (time.perf_counter() - started))
    return (
        f"~{rates[0]:.0f} conditional `update_one`/s; ~{rates[1]:.0f}/s as "
        f"`find_one` + version-checked `update_one` pairs ({tasks * per_task} ops each)"
    )


Probe = Callable[[Coll], Awaitable[str]]
PROBES: list[tuple[str, Probe]] = [
    ("`update_one` `$push` + `$each` + `$slice`", push_each_slice),
    ("`$pull` with a condition on an array of subdocuments", pull_condition),
    ("`$addToSet`", add_to_set),
    ("`$inc`", inc),
    ("`find_one_and_update` upsert + `ReturnDocument.AFTER`", find_one_and_update_upsert),
    ("unique index", unique_index),
    ("partial index (`partialFilterExpression`)", partial_index),
    ("sparse index", sparse_index),
    ('`{"field": {"$ne": v}}` on an array field', ne_on_array),
    ('`{"arr": {"$size": 0}}`', size_zero),
    ("`$unset`", unset),
    ("`$setOnInsert`", set_on_insert),
    ("`bulk_write(ordered=False)`", bulk_unordered),
    ("`count_documents`", count_documents),
    ("`aggregate` `$match`/`$group`/`$sort`", aggregate),
    ("conditional `update_one`, 50 concurrent tasks", conditional_update_throughput),
]


async def run(url: str) -> list[tuple[str, str]]:
    client: AsyncMongoClient[Doc] = AsyncMongoClient(url)
    results = []
    try:
        db = client["probe"]
        for index, (name, probe) in enumerate(PROBES):
            collection = db[f"c{index}"]
            try:
                outcome = await probe(collection)
            except Exception as exc:
                outcome = f"FAILS: {type(exc).__name__}: {str(exc)[:160]}"
            results.append((name, outcome))
    finally:
        await client.close()
    return results


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = FerretDBServer(free_port(), Path(tmp) / "data", Path(tmp) / "ferretdb.log")
        server.start()
        try:
            server.wait_ready()
            results = asyncio.run(run(server.url))
        finally:
            server.stop()
    print("| feature | result |\n| --- | --- |")
    for name, outcome in results:
        print(f"| {name} | {outcome.replace('|', '/')} |")


if __name__ == "__main__":
    main()
