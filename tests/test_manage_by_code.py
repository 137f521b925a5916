"""Managing a booking with its reference and the SMS code, over the real platform (issue 9):
the patient's access log shows it (ID-7), and the code cannot be guessed (BK-2): attempts are
limited per client and per reference (429 with Retry-After), wrong codes lock the booking even
for the right code, and a new code sent by staff through the normal SMS path works again."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from tests.booking_support import Book, book_for, local, make_time_book, reserve_patient
from tests.conftest import staff_headers
from vaccinera_contracts.roles import Role
from vaccinera_devstack.platform import Platform
from vaccinera_devstack.testing import eventually

pytestmark = pytest.mark.infra

SMS_PATH = "/sms/v1/messages"
CODE = re.compile(r"\bkod (\d{6})\b")
# The booking service's defaults (vaccinera_booking.settings): the platform runs with them.
PER_CLIENT, PER_REFERENCE, WINDOW_SECONDS, MAX_WRONG = 20, 10, 900, 5


@pytest.fixture
async def gw(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        yield client


_used: set[str] = set()


def caller() -> dict[str, str]:
    """A caller at an address of its own, as the gateway's trusted proxy (loopback in the
    local stack) names it."""
    while (address := f"198.18.{random.randrange(256)}.{random.randrange(1, 255)}") in _used:
        pass
    _used.add(address)
    return {"X-Forwarded-For": address}


@dataclass
class Booked:
    booking_id: str
    reference: str
    patient_id: str
    mobile: str
    code: str


async def sms_codes(platform: Platform, mobile: str, count: int) -> list[str]:
    """The codes texted to ``mobile``, once ``count`` of them have arrived (oldest first)."""
    found: list[str] = []

    def codes() -> list[str]:
        with platform.infra.standin("sms") as sms:
            texts = [r["body"]["text"] for r in sms.received(SMS_PATH) if r["body"]["to"] == mobile]
        return [m.group(1) for t in texts if (m := CODE.search(t))]

    async def arrived() -> bool:
        found[:] = await asyncio.to_thread(codes)
        return len(found) >= count

    await eventually(arrived, timeout=30)
    return found


async def booked_with_mobile(
    gw: httpx.AsyncClient, platform: Platform, book: Book, hh: int, mm: int
) -> Booked:
    """A reserve-number patient with a mobile number (ID-8: booking-only staff may add it),
    booked by staff (BK-3); the code arrives by SMS, as the patient gets it."""
    booker = staff_headers(platform, Role.BOOKING_ONLY)
    patient_id = await reserve_patient(gw, booker, "Okänd", "Patient")
    mobile = f"+4670{random.randrange(10**7):07d}"
    r = await gw.put(
        f"/api/identity/patients/{patient_id}/contact", json={"mobile": mobile}, headers=booker
    )
    assert r.status_code == 200, r.text
    start = local(book.day, hh, mm).isoformat()
    r = await book_for(gw, booker, book.time_book_id, book.dose1, start, patient_id)
    assert r.status_code == 201, r.text
    (code,) = await sms_codes(platform, mobile, 1)
    return Booked(r.json()["booking_id"], r.json()["reference"], patient_id, mobile, code)


async def fresh_window() -> None:
    """Counts are kept per fixed window (quarter hours): start well inside one, so the counts
    this test expects are not cut in two."""
    left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left < 90:
        await asyncio.sleep(left + 1)


def wrong(*codes: str) -> str:
    while (guess := f"{random.randrange(10**6):06d}") in codes:
        pass
    return guess


async def test_id7_managing_by_code_is_in_the_patients_access_log(
    gw: httpx.AsyncClient, platform: Platform
) -> None:
    book = await make_time_book(gw, platform, columns=1)
    booking = await booked_with_mobile(gw, platform, book, 9, 0)
    patient = caller()
    r = await gw.post(
        "/api/booking/manage/rebook",
        json={
            "reference": booking.reference.lower(),  # as typed
            "code": booking.code,
            "start": local(book.day, 9, 30).isoformat(),
        },
        headers=patient,
    )
    assert r.status_code == 200, r.text
    r = await gw.post(
        "/api/booking/manage/cancel",
        json={"reference": booking.reference, "code": booking.code},
        headers=patient,
    )
    assert (r.status_code, r.json()["status"]) == (200, "cancelled")

    secretary = staff_headers(platform, Role.MEDICAL_SECRETARY)
    by_code: list[dict[str, object]] = []

    async def logged() -> bool:
        r = await gw.get(
            f"/api/identity/patients/{booking.patient_id}/access-log", headers=secretary
        )
        assert r.status_code == 200, r.text
        by_code[:] = [e for e in r.json()["entries"] if e["actor_kind"] == "patient_by_code"]
        return len(by_code) == 2

    await eventually(logged)
    assert {e["operation"] for e in by_code} == {"booking.manage_rebook", "booking.manage_cancel"}
    for entry in by_code:
        assert entry["action"] == "write"
        assert entry["service"] == "booking"
        assert entry["actor"] == f"reference:{booking.reference}"
        assert entry["hsa_id"] is None and entry["assignment_id"] is None
        assert booking.code not in str(entry)


async def test_bk2_guessed_codes_are_limited_locked_and_a_new_code_by_sms_works(
    gw: httpx.AsyncClient, platform: Platform
) -> None:
    book = await make_time_book(gw, platform, columns=1)
    a, b, c = [await booked_with_mobile(gw, platform, book, 10, 5 * i) for i in range(3)]
    codes = (a.code, b.code, c.code)
    await fresh_window()

    # 50 wrong codes from one address, over three references.
    attacker = caller()
    answers = []
    for i in range(50):
        target = (a, b, c)[i % 3]
        r = await gw.post(
            "/api/booking/manage/cancel",
            json={"reference": target.reference, "code": wrong(*codes)},
            headers=attacker,
        )
        answers.append(r)
    statuses = [r.status_code for r in answers]
    # Five wrong codes per reference lock it (403); the client's 21st attempt is refused
    # before any booking is looked at (429), however it goes on.
    assert statuses == [404] * 3 * MAX_WRONG + [403] * (PER_CLIENT - 3 * MAX_WRONG) + [429] * (
        50 - PER_CLIENT
    ), statuses
    assert {r.json()["code"] for r in answers[:15]} == {"unknown_booking"}
    assert {r.json()["code"] for r in answers[15:20]} == {"locked"}
    for r in answers[20:]:
        assert r.json()["code"] == "too_many_attempts"
        retry_after = int(r.headers["retry-after"])
        assert 1 <= retry_after <= WINDOW_SECONDS
        assert r.json()["retry_after_seconds"] == retry_after
    # The attacker stays refused, even with the right code.
    r = await gw.post(
        "/api/booking/manage/cancel",
        json={"reference": a.reference, "code": a.code},
        headers=attacker,
    )
    assert r.status_code == 429

    # The patient, from elsewhere: the booking is locked even for the right code.
    patient = caller()
    r = await gw.post(
        "/api/booking/manage/cancel",
        json={"reference": a.reference, "code": a.code},
        headers=patient,
    )
    assert (r.status_code, r.json()["code"]) == (403, "locked")
    assert "new code" in r.json()["message"]

    # Staff at the unit send a new code; it reaches the patient by SMS like the first.
    booker = staff_headers(platform, Role.BOOKING_ONLY)
    elsewhere = staff_headers(platform, Role.BOOKING_ONLY, unit_id="unit-motala")
    r = await gw.post(f"/api/booking/bookings/{a.booking_id}/manage-code", headers=elsewhere)
    assert r.status_code == 403  # another unit's booking (AC-5)
    r = await gw.post(f"/api/booking/bookings/{a.booking_id}/manage-code", headers=booker)
    assert r.status_code == 200, r.text
    assert a.code not in r.text
    first, new = await sms_codes(platform, a.mobile, 2)
    assert first == a.code
    if new != a.code:  # one in a million draws the same code again
        r = await gw.post(
            "/api/booking/manage/cancel",
            json={"reference": a.reference, "code": a.code},
            headers=patient,
        )
        assert (r.status_code, r.json()["code"]) == (404, "unknown_booking")
    r = await gw.post(
        "/api/booking/manage/cancel", json={"reference": a.reference, "code": new}, headers=patient
    )
    assert (r.status_code, r.json()["status"]) == (200, "cancelled"), r.text

    # Many addresses cannot share out the guessing either: a reference takes ten attempts a
    # window, from anyone (c has had six from the attacker).
    refused = None
    for attempt in range(7, PER_REFERENCE + 2):
        r = await gw.post(
            "/api/booking/manage/cancel",
            json={"reference": c.reference, "code": c.code},
            headers=caller(),
        )
        if attempt <= PER_REFERENCE:
            assert (r.status_code, r.json()["code"]) == (403, "locked")
        else:
            refused = r
    assert refused is not None and refused.status_code == 429
    assert "booking reference" in refused.json()["message"]
    assert int(refused.headers["retry-after"]) >= 1
