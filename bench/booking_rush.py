"""Benchmark (not a test): bookings per second through the gateway at several concurrency
levels, with the raw FerretDB rate of the primitive a booking rests on as the ceiling, and the
latency from a confirmed booking to its SMS at the provider.

    uv run python bench/booking_rush.py [--levels 10,50,100] [--bookings 600]

It starts its own platform (Kafka, FerretDB, stand-ins, all services) on free ports in a
temporary directory, so it never touches a running local stack.
"""

from __future__ import annotations

import argparse
import asyncio
import platform as machine
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from pymongo import AsyncMongoClient

from vaccinera_contracts.roles import Role
from vaccinera_devstack import tokens
from vaccinera_devstack.platform import Platform, PlatformPorts
from vaccinera_devstack.testing import eventually
from vaccinera_identity.population import SyntheticRegister

TZ = ZoneInfo("Europe/Stockholm")
COLUMNS = 10


@dataclass
class Level:
    concurrency: int
    bookings: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]
    double_bookings: int

    @property
    def rate(self) -> float:
        return self.bookings / self.seconds


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def setup_time_book(
    gw: httpx.AsyncClient, keys: tokens.DevKeys, days: int
) -> tuple[str, str, date]:
    admin = {"authorization": "Bearer " + tokens.staff_token(keys, Role.TIME_BOOK_ADMIN)}
    r = await gw.post(
        "/api/booking/time-books",
        headers=admin,
        json={
            "unit_id": "unit-centrum",
            "unit_name": "Vaccinationsmottagningen Linköping",
            "name": f"Bench {uuid.uuid4().hex[:6]}",
            "resources": [{"resource": "nurse", "columns": COLUMNS}],
        },
    )
    r.raise_for_status()
    tb = r.json()["time_book_id"]
    r = await gw.post(
        f"/api/booking/time-books/{tb}/visit-types",
        headers=admin,
        json={
            "name": "Covid-19 dos 1",
            "category": "Covid-19",
            "resource": "nurse",
            "duration_minutes": 5,
            "dose": 1,
        },
    )
    r.raise_for_status()
    visit_type = r.json()["visit_types"][-1]["visit_type_id"]
    first = date.today() + timedelta(days=60)
    r = await gw.post(
        f"/api/booking/time-books/{tb}/slots",
        headers=admin,
        json={
            "resource": "nurse",
            "columns": list(range(1, COLUMNS + 1)),
            "first_day": first.isoformat(),
            "last_day": (first + timedelta(days=days)).isoformat(),
            "weekdays": [0, 1, 2, 3, 4, 5, 6],
            "day_start": "08:00",
            "day_end": "20:00",
            "slot_minutes": 5,
        },
    )
    r.raise_for_status()
    return tb, visit_type, first


async def register(gw: httpx.AsyncClient, keys: tokens.DevKeys, count: int) -> list[str]:
    nurse = {"authorization": "Bearer " + tokens.staff_token(keys, Role.NURSE)}
    people = SyntheticRegister().sample(count, seed=4242, protected=False)
    sem = asyncio.Semaphore(32)

    async def one(i: int, identifier: str) -> str:
        async with sem:
            r = await gw.post(
                "/api/identity/patients", json={"identifier": identifier}, headers=nurse
            )
            r.raise_for_status()
            pid: str = r.json()["patient_id"]
            r = await gw.put(
                f"/api/identity/patients/{pid}/contact",
                json={"mobile": f"+46701{i:06d}"},
                headers=nurse,
            )
            r.raise_for_status()
            return pid

    return list(await asyncio.gather(*(one(i, p.identifier) for i, p in enumerate(people))))


async def wait_known(mongo_url: str, ids: list[str]) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    patients = client["vaccinera_booking"]["patients"]

    async def known() -> bool:
        return await patients.count_documents({"_id": {"$in": ids}}) == len(ids)

    try:
        await eventually(known, timeout=300, interval=0.5)
    finally:
        await client.close()


async def run_level(
    gw: httpx.AsyncClient,
    keys: tokens.DevKeys,
    tb: str,
    visit_type: str,
    starts: list[datetime],
    patients: list[str],
    concurrency: int,
) -> tuple[Level, dict[str, float]]:
    booker = {"authorization": "Bearer " + tokens.staff_token(keys, Role.BOOKING_ONLY)}
    sem = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    confirmed: dict[str, float] = {}
    taken: list[tuple[str, int]] = []

    async def one(patient_id: str, start: datetime) -> None:
        async with sem:
            t0 = time.perf_counter()
            r = await gw.post(
                "/api/booking/bookings",
                headers=booker,
                json={
                    "time_book_id": tb,
                    "visit_type_id": visit_type,
                    "start": start.isoformat(),
                    "patient_id": patient_id,
                },
            )
            latencies.append(time.perf_counter() - t0)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if r.status_code == 201:
                body = r.json()
                confirmed[body["reference"]] = time.time()
                taken.append((body["start"], body["column"]))

    t0 = time.perf_counter()
    await asyncio.gather(*(one(p, s) for p, s in zip(patients, starts, strict=True)))
    seconds = time.perf_counter() - t0
    level = Level(
        concurrency, len(starts), seconds, latencies, statuses, len(taken) - len(set(taken))
    )
    return level, confirmed


async def raw_store_rate(mongo_url: str, concurrency: int, ops: int) -> float:
    """The booking primitive alone: insert a document holding a slot id under a unique index."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_url, maxPoolSize=concurrency + 5
    )
    coll = client["bench_raw"][f"slots_{uuid.uuid4().hex[:6]}"]
    await coll.create_index("active_slot", unique=True)
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            await coll.insert_one(
                {
                    "_id": str(uuid.uuid4()),
                    "active_slot": f"slot-{i}",
                    "patient_id": "p",
                    "_outbox": [{"event": "x" * 400}],
                }
            )

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(ops)))
    seconds = time.perf_counter() - t0
    await client.drop_database("bench_raw")
    await client.close()
    return ops / seconds


def sms_latencies(platform: Platform, confirmed: dict[str, float]) -> list[float]:
    out = []
    for record in platform.infra.standin("sms").received("/sms/v1/messages", method="POST"):
        if record.get("replayed"):
            continue
        text = str((record.get("body") or {}).get("text", ""))
        for ref, booked_at in confirmed.items():
            if ref in text:
                out.append(datetime.fromisoformat(record["time"]).timestamp() - booked_at)
    return out


async def main(levels: list[int], per_level: int) -> None:
    base = Path(tempfile.mkdtemp(prefix="vaccinera-bench-"))
    with Platform(base, PlatformPorts.free(), extra_env={"VACCINERA_LOG_LEVEL": "WARNING"}) as p:
        limits = httpx.Limits(
            max_connections=max(levels) + 10, max_keepalive_connections=max(levels) + 10
        )
        async with httpx.AsyncClient(base_url=p.gateway_url, timeout=120, limits=limits) as gw:
            days = max(1, (per_level * len(levels)) // (COLUMNS * 144) + 1)
            tb, visit_type, first = await setup_time_book(gw, p.keys, days)
            patients = await register(gw, p.keys, per_level)
            await wait_known(p.infra.mongo_url, patients)
            times = [
                datetime(first.year, first.month, first.day, 8, tzinfo=TZ)
                + timedelta(days=d, minutes=5 * m)
                for d in range(days + 1)
                for m in range(144)
            ]
            slots = [t for t in times for _ in range(COLUMNS)]
            results: list[Level] = []
            confirmed: dict[str, float] = {}
            for i, level in enumerate(levels):
                starts = slots[i * per_level : (i + 1) * per_level]
                result, confirmed = await run_level(
                    gw, p.keys, tb, visit_type, starts, patients, level
                )
                results.append(result)
            # Let the last level's confirmations arrive (the sender works through every level's).
            deadline = time.monotonic() + 180
            sms = sms_latencies(p, confirmed)
            while len(sms) < len(confirmed) and time.monotonic() < deadline:
                await asyncio.sleep(2)
                sms = sms_latencies(p, confirmed)
        raw = await raw_store_rate(p.infra.mongo_url, max(levels), per_level)
    print(
        f"\nmachine: {machine.machine()}, {__import__('os').cpu_count()} cores, Python {machine.python_version()}"
    )
    print(
        f"{'concurrency':>11} {'bookings':>8} {'per s':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'statuses':>16} {'double':>6}"
    )
    for r in results:
        print(
            f"{r.concurrency:>11} {r.bookings:>8} {r.rate:>7.0f} {pct(r.latencies, 50) * 1000:>7.0f} "
            f"{pct(r.latencies, 95) * 1000:>7.0f} {pct(r.latencies, 99) * 1000:>7.0f} "
            f"{r.statuses!s:>16} {r.double_bookings:>6}"
        )
    best = max(r.rate for r in results)
    print(
        f"raw FerretDB unique-slot inserts: {raw:.0f}/s; best booking rate / raw = {best / raw:.0%}"
    )
    if sms:
        print(
            f"booking -> SMS at provider (last level, {len(sms)} messages): "
            f"p50 {statistics.median(sms) * 1000:.0f} ms, p99 {pct(sms, 99) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--levels", default="10,50,100")
    parser.add_argument("--bookings", type=int, default=600)
    args = parser.parse_args()
    asyncio.run(main([int(x) for x in args.levels.split(",")], args.bookings))
