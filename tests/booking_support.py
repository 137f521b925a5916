"""Shared steps for booking tests: a unit's time book with open times, registered patients."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from tests.conftest import staff_headers
from vaccinera_contracts.roles import Role
from vaccinera_devstack.platform import Platform
from vaccinera_devstack.testing import eventually
from vaccinera_kit.database import plain_url

TZ = ZoneInfo("Europe/Stockholm")
UNIT = "unit-centrum"


def future_weekday(days_ahead: int) -> date:
    day = date.today() + timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=TZ)


@dataclass
class Book:
    time_book_id: str
    dose1: str
    dose2: str
    other: str
    day: date


def day_range(book: Book) -> dict[str, str]:
    """Query parameters covering the book's day."""
    return {"from": local(book.day, 0).isoformat(), "to": local(book.day, 23, 59).isoformat()}


async def make_time_book(
    gw: httpx.AsyncClient,
    platform: Platform,
    *,
    columns: int = 3,
    unit: str = UNIT,
    day: date | None = None,
    hours: tuple[int, int] = (8, 16),
    slot_minutes: int = 5,
) -> Book:
    admin = staff_headers(platform, Role.TIME_BOOK_ADMIN, unit_id=unit)
    r = await gw.post(
        "/api/booking/time-books",
        headers=admin,
        json={
            "unit_id": unit,
            "unit_name": "Vaccinationsmottagningen Linköping",
            "name": f"Covid-19 {random.randrange(10**6)}",
            "resources": [
                {"resource": "nurse", "columns": columns},
                {"resource": "doctor", "columns": 1},
            ],
        },
    )
    assert r.status_code == 201, r.text
    tb = r.json()["time_book_id"]
    ids = []
    for name, dose, resource in (
        ("Covid-19 dos 1, Comirnaty", 1, "nurse"),
        ("Covid-19 dos 2, Comirnaty, ENDAST ons-fre", 2, "nurse"),
        ("Läkarbedömning", None, "doctor"),
    ):
        r = await gw.post(
            f"/api/booking/time-books/{tb}/visit-types",
            headers=admin,
            json={
                "name": name,
                "category": "Covid-19",
                "resource": resource,
                "duration_minutes": 5,
                "dose": dose,
            },
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["visit_types"][-1]["visit_type_id"])
    day = day or future_weekday(random.randrange(30, 300))
    r = await gw.post(
        f"/api/booking/time-books/{tb}/slots",
        headers=admin,
        json={
            "resource": "nurse",
            "columns": list(range(1, columns + 1)),
            "first_day": day.isoformat(),
            "last_day": day.isoformat(),
            "day_start": f"{hours[0]:02d}:00",
            "day_end": f"{hours[1]:02d}:00",
            "slot_minutes": slot_minutes,
        },
    )
    assert r.status_code == 201, r.text
    return Book(tb, ids[0], ids[1], ids[2], day)


async def register_patients(
    gw: httpx.AsyncClient, platform: Platform, count: int, *, seed: int, mobiles: bool = True
) -> list[str]:
    """``count`` patients of the synthetic register, with mobile numbers in identity, known to
    booking through the events."""
    from vaccinera_identity.population import SyntheticRegister

    nurse = staff_headers(platform, Role.NURSE)
    people = SyntheticRegister().sample(count, seed=seed, protected=False)
    sem = asyncio.Semaphore(20)

    async def one(identifier: str) -> str:
        async with sem:
            r = await gw.post(
                "/api/identity/patients", json={"identifier": identifier}, headers=nurse
            )
            assert r.status_code in (200, 201), r.text
            pid: str = r.json()["patient_id"]
            if mobiles:
                number = f"+4670{random.randrange(10**7):07d}"
                r = await gw.put(
                    f"/api/identity/patients/{pid}/contact", json={"mobile": number}, headers=nurse
                )
                assert r.status_code == 200, r.text
            return pid

    ids = list(await asyncio.gather(*(one(p.identifier) for p in people)))
    booking = await asyncpg.connect(plain_url(platform.infra.database_url("booking")))

    async def booking_knows_all() -> bool:
        known = await booking.fetchval(
            "SELECT count(*) FROM patients WHERE patient_id = ANY($1::text[])", ids
        )
        return bool(known == len(ids))

    try:
        # The numbers stay in identity: the SMS sender asks for them when it sends.
        await eventually(booking_knows_all, timeout=60, interval=0.3)
    finally:
        await booking.close()
    return ids


DECLARATION: dict[str, Any] = {
    "version": 0,
    "answers": {
        "fever": {"yes": False},
        "allergy": {"yes": False},
        "anticoagulants": {"yes": False},
        "recent_vaccine": {"yes": False},
    },
}


async def reserve_patient(
    gw: httpx.AsyncClient, headers: dict[str, str], given_name: str, family_name: str
) -> str:
    """A new patient with a reserve number (BK-3), once booking knows of them."""
    r = await gw.post(
        "/api/identity/patients/reserve",
        headers=headers,
        json={"given_name": given_name, "family_name": family_name},
    )
    assert r.status_code == 201, r.text
    patient_id: str = r.json()["patient_id"]

    async def known() -> bool:
        r = await gw.get(f"/api/booking/patients/{patient_id}/self-booking", headers=headers)
        return r.status_code == 200

    await eventually(known)
    return patient_id


async def book_for(
    gw: httpx.AsyncClient,
    headers: dict[str, str],
    time_book_id: str,
    visit_type_id: str,
    start: str,
    patient_id: str,
) -> httpx.Response:
    """Staff book ``start`` for a patient (BK-3)."""
    return await gw.post(
        "/api/booking/bookings",
        headers=headers,
        json={
            "time_book_id": time_book_id,
            "visit_type_id": visit_type_id,
            "start": start,
            "patient_id": patient_id,
        },
    )
