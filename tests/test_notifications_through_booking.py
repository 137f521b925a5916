"""NT-1 and NT-3 from end to end: booking's own rebook, cancel and mass cancellation, called
through the gateway, reach the patient's phone at the SMS provider stand-in, with exactly the
texts the patient should get. (tests/test_notifications_e2e.py publishes booking events by
hand; here booking makes them.)"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterator
from datetime import datetime

import httpx
import pytest

from tests.booking_support import Book, book_for, local, make_time_book, register_patients
from tests.conftest import staff_headers
from vaccinera_contracts.roles import Role
from vaccinera_devstack.platform import Platform
from vaccinera_devstack.standins import StandIn
from vaccinera_devstack.testing import eventually

pytestmark = pytest.mark.infra

SMS_PATH = "/sms/v1/messages"
UNIT_NAME = "Vaccinationsmottagningen Linköping"  # booking_support.make_time_book's unit
VISIT = "Covid-19 dos 1, Comirnaty"
# How the patient reads a time, written here by hand (not taken from the service's code).
WEEKDAYS = ["måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag"]
MONTHS = [
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
]


def spoken(moment: datetime) -> str:
    """``onsdag 3 mars kl 10:05``: a visit's day and time as the SMS says it."""
    return f"{WEEKDAYS[moment.weekday()]} {moment.day} {MONTHS[moment.month - 1]} kl {moment:%H:%M}"


@pytest.fixture
async def gw(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        yield client


@pytest.fixture
def sms(platform: Platform) -> Iterator[StandIn]:
    with platform.infra.standin("sms") as standin:
        standin.behave()
        yield standin


async def texts_to(sms: StandIn, mobile: str, count: int) -> list[str]:
    """The texts ``mobile`` received, once there are ``count``; then a moment more, so an
    extra one would show."""

    def received() -> list[str]:
        return [
            r["body"]["text"]
            for r in sms.received(SMS_PATH)
            if r["body"]["to"] == mobile and not r["replayed"]
        ]

    async def arrived() -> bool:
        return len(received()) >= count

    await eventually(arrived, timeout=60, interval=0.2)
    await asyncio.sleep(1.5)
    return received()


async def patients_with_mobiles(
    gw: httpx.AsyncClient, platform: Platform, count: int
) -> list[tuple[str, str]]:
    """``count`` patients with mobile numbers: (patient id, mobile as identity keeps it)."""
    ids = await register_patients(gw, platform, count, seed=random.randrange(10**9))
    nurse = staff_headers(platform, Role.NURSE)
    out = []
    for patient_id in ids:
        r = await gw.get(f"/api/identity/patients/{patient_id}", headers=nurse)
        assert r.status_code == 200, r.text
        out.append((patient_id, r.json()["contact"]["mobile"]))
    return out


async def unit_book(gw: httpx.AsyncClient, platform: Platform) -> tuple[Book, str]:
    """A time book of a unit of its own, open on one day, two nurse columns."""
    unit = f"unit-nt-{random.randrange(10**6)}"
    return await make_time_book(gw, platform, unit=unit, columns=2), unit


async def test_nt1_bk5_rebooked_and_cancelled_through_booking_reach_the_patient(
    platform: Platform, gw: httpx.AsyncClient, sms: StandIn
) -> None:
    book, unit = await unit_book(gw, platform)
    nurse = staff_headers(platform, Role.NURSE, unit_id=unit)
    ((patient, mobile),) = await patients_with_mobiles(gw, platform, 1)
    first, moved_to = local(book.day, 10, 5), local(book.day, 13, 40)

    r = await book_for(gw, nurse, book.time_book_id, book.dose1, first.isoformat(), patient)
    assert r.status_code == 201, r.text
    reference = r.json()["reference"]
    (confirmation,) = await texts_to(sms, mobile, 1)
    assert f"{UNIT_NAME} {spoken(first)} för {VISIT}" in confirmation
    assert reference in confirmation

    r = await gw.post(
        f"/api/booking/bookings/{r.json()['booking_id']}/rebook",
        headers=nurse,
        json={"start": moved_to.isoformat()},
    )
    assert r.status_code == 200, r.text
    booking_id = r.json()["booking_id"]
    _, rebooked = await texts_to(sms, mobile, 2)
    # The new time, and nothing of the old one.
    assert "flyttad" in rebooked
    assert f"{UNIT_NAME} {spoken(moved_to)} för {VISIT}" in rebooked
    assert spoken(first) not in rebooked
    assert reference in rebooked

    r = await gw.post(f"/api/booking/bookings/{booking_id}/cancel", headers=nurse)
    assert r.status_code == 200, r.text
    texts = await texts_to(sms, mobile, 3)
    assert len(texts) == 3, texts  # confirmation, rebooked, cancelled: nothing else
    cancelled = texts[2]
    assert "avbokad" in cancelled
    assert f"{UNIT_NAME} {spoken(moved_to)} för {VISIT}" in cancelled
    assert reference in cancelled


async def test_nt3_bk6_mass_cancellation_through_booking_one_sms_per_patient(
    platform: Platform, gw: httpx.AsyncClient, sms: StandIn
) -> None:
    book, unit = await unit_book(gw, platform)
    nurse = staff_headers(platform, Role.NURSE, unit_id=unit)
    (anna, anna_mobile), (bo, bo_mobile) = await patients_with_mobiles(gw, platform, 2)
    times = {
        "anna-1": (anna, local(book.day, 9, 0)),
        "anna-2": (anna, local(book.day, 11, 30)),
        "bo": (bo, local(book.day, 9, 0)),  # the second column at the same time
        "anna-later": (anna, local(book.day, 15, 0)),  # outside the range: stays
    }
    references = {}
    for name, (patient, start) in times.items():
        r = await book_for(gw, nurse, book.time_book_id, book.dose1, start.isoformat(), patient)
        assert r.status_code == 201, r.text
        references[name] = r.json()["reference"]
    await texts_to(sms, anna_mobile, 3)
    await texts_to(sms, bo_mobile, 1)

    words = f"Vaccinet har inte levererats. Boka en ny tid på 1177.se. ({random.randrange(10**6)})"
    r = await gw.post(
        f"/api/booking/time-books/{book.time_book_id}/mass-cancellations",
        headers=staff_headers(platform, Role.TIME_BOOK_ADMIN, unit_id=unit),
        json={
            "start": local(book.day, 8).isoformat(),
            "end": local(book.day, 12).isoformat(),
            "message": words,
            "slots": "close",
        },
    )
    assert r.status_code == 201, r.text
    assert (r.json()["cancelled"], r.json()["patients"]) == (3, 2)

    # Each patient: the confirmations from before, then ONE text with the unit's words naming
    # every appointment of theirs it cancelled, and none it did not.
    anna_texts = await texts_to(sms, anna_mobile, 4)
    bo_texts = await texts_to(sms, bo_mobile, 2)
    assert (len(anna_texts), len(bo_texts)) == (4, 2), (anna_texts, bo_texts)
    for text, mine, not_mine in (
        (anna_texts[3], ("anna-1", "anna-2"), ("bo", "anna-later")),
        (bo_texts[1], ("bo",), ("anna-1", "anna-2", "anna-later")),
    ):
        assert text.startswith(words), text
        assert UNIT_NAME in text
        for name in mine:
            start = times[name][1]
            assert references[name] in text, (name, text)
            assert spoken(start).split(" kl ")[0] in text and f"{start:%H:%M}" in text, text
        for name in not_mine:
            assert references[name] not in text, (name, text)
