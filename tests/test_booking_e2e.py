"""Booking over the real platform: BK-1..BK-9, BK-11, BK-12 and AC-5, with bad input answered
by a clear 4xx and nothing half-written."""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx
import pytest

from tests.booking_support import (
    DECLARATION,
    UNIT,
    book_for,
    day_range,
    future_weekday,
    local,
    make_time_book,
    register_patients,
    reserve_patient,
)
from tests.conftest import citizen_headers, staff_headers
from vaccinera_contracts.roles import Role
from vaccinera_contracts.topics import BOOKING
from vaccinera_devstack.platform import Platform
from vaccinera_devstack.testing import eventually, read_topic
from vaccinera_identity.population import SyntheticRegister
from vaccinera_kit.database import plain_url

pytestmark = pytest.mark.infra


@pytest.fixture
async def gw(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        yield client


async def capacity(gw: httpx.AsyncClient, platform: Platform, tb: str, day: str) -> dict[str, int]:
    r = await gw.get(
        f"/api/booking/time-books/{tb}/capacity",
        params={"from": day, "to": day},
        headers=staff_headers(platform, Role.NURSE),
    )
    assert r.status_code == 200, r.text
    nurse_days = [d for d in r.json()["days"] if d["resource"] == "nurse"]
    return {k: sum(d[k] for d in nurse_days) for k in ("opened", "booked", "free", "closed")}


async def test_bk1_bk8_open_slots_in_bulk_and_refuse_overlaps_whole(
    gw: httpx.AsyncClient, platform: Platform
) -> None:
    admin = staff_headers(platform, Role.TIME_BOOK_ADMIN)
    book = await make_time_book(gw, platform, columns=3, hours=(8, 9))
    first = future_weekday(400)
    # Weekdays 08:00-16:00 every 5 minutes in 3 columns for 4 weeks, in one request.
    r = await gw.post(
        f"/api/booking/time-books/{book.time_book_id}/slots",
        headers=admin,
        json={
            "resource": "nurse",
            "columns": [1, 2, 3],
            "first_day": first.isoformat(),
            "last_day": (first + timedelta(days=27)).isoformat(),
            "day_start": "08:00",
            "day_end": "16:00",
            "slot_minutes": 5,
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["opened"] == 20 * 96 * 3
    week = (first + timedelta(days=6)).isoformat()
    r = await gw.get(
        f"/api/booking/time-books/{book.time_book_id}/capacity",
        params={"from": first.isoformat(), "to": week},
        headers=admin,
    )
    assert sum(d["opened"] for d in r.json()["days"] if d["resource"] == "nurse") == 5 * 96 * 3

    before = await capacity(gw, platform, book.time_book_id, book.day.isoformat())
    overlapping = await gw.post(
        f"/api/booking/time-books/{book.time_book_id}/slots",
        headers=admin,
        json={
            "resource": "nurse",
            "columns": [1, 2],
            "first_day": book.day.isoformat(),
            "last_day": book.day.isoformat(),
            "day_start": "08:30",
            "day_end": "10:00",
            "slot_minutes": 10,
        },
    )
    assert (overlapping.status_code, overlapping.json()["code"]) == (409, "overlapping_slots")
    assert await capacity(gw, platform, book.time_book_id, book.day.isoformat()) == before

    past = await gw.post(
        f"/api/booking/time-books/{book.time_book_id}/slots",
        headers=admin,
        json={
            "resource": "nurse",
            "columns": [1],
            "first_day": "2020-01-06",
            "last_day": "2020-01-06",
            "day_start": "08:00",
            "day_end": "09:00",
            "slot_minutes": 5,
        },
    )
    assert (past.status_code, past.json()["details"][0]["rule"]) == (422, "in_past")
    unknown = await gw.post(
        "/api/booking/time-books/nope/slots",
        headers=admin,
        json={
            "resource": "nurse",
            "columns": [1],
            "first_day": first.isoformat(),
            "last_day": first.isoformat(),
            "day_start": "08:00",
            "day_end": "09:00",
            "slot_minutes": 5,
        },
    )
    assert unknown.status_code == 404
    bad_column = await gw.post(
        f"/api/booking/time-books/{book.time_book_id}/slots",
        headers=admin,
        json={
            "resource": "nurse",
            "columns": [7],
            "first_day": first.isoformat(),
            "last_day": first.isoformat(),
            "day_start": "18:00",
            "day_end": "19:00",
            "slot_minutes": 5,
        },
    )
    assert (bad_column.status_code, bad_column.json()["details"][0]["field"]) == (422, "columns")

    # A labelled time block closes its free times.
    r = await gw.post(
        f"/api/booking/time-books/{book.time_book_id}/time-blocks",
        headers=admin,
        json={
            "resource": "nurse",
            "start": local(book.day, 8, 30).isoformat(),
            "end": local(book.day, 9, 0).isoformat(),
            "label": "Lunch",
        },
    )
    assert r.status_code == 201, r.text
    after = await capacity(gw, platform, book.time_book_id, book.day.isoformat())
    assert after["closed"] == 6 * 3
    assert after["free"] == before["free"] - 18
    assert any(b["label"] == "Lunch" for b in r.json()["time_blocks"])


async def test_bk2_citizen_books_with_declaration_sees_rebooks_and_cancels(
    gw: httpx.AsyncClient, platform: Platform
) -> None:
    book = await make_time_book(gw, platform, columns=2)
    (person,) = SyntheticRegister().sample(1, seed=101, protected=False)
    me = citizen_headers(platform, person.identifier)
    r = await gw.post("/api/identity/me", headers=me)
    assert r.status_code in (200, 201), r.text
    free = await gw.get(
        f"/api/booking/time-books/{book.time_book_id}/free-times",
        params={"visit_type_id": book.dose1, **day_range(book)},
        headers=me,
    )
    assert free.status_code == 200, free.text
    first = free.json()["times"][0]
    assert first["free_columns"] == 2

    bad = dict(
        DECLARATION, answers={**DECLARATION["answers"], "allergy": {"yes": True}, "bogus": {}}
    )
    r = await gw.post(
        "/api/booking/bookings",
        headers=me,
        json={
            "time_book_id": book.time_book_id,
            "visit_type_id": book.dose1,
            "start": first["start"],
            "health_declaration": bad,
        },
    )
    assert r.status_code == 422
    assert {(d["field"], d["rule"]) for d in r.json()["details"]} == {
        ("health_declaration.answers.allergy", "comment_required"),
        ("health_declaration.answers.bogus", "unknown_question"),
    }
    missing = await gw.post(
        "/api/booking/bookings",
        headers=me,
        json={
            "time_book_id": book.time_book_id,
            "visit_type_id": book.dose1,
            "start": first["start"],
        },
    )
    assert (missing.status_code, missing.json()["details"][0]["field"]) == (
        422,
        "health_declaration",
    )
    assert (await capacity(gw, platform, book.time_book_id, book.day.isoformat()))["booked"] == 0

    r = await gw.post(
        "/api/booking/bookings",
        headers=me,
        json={
            "time_book_id": book.time_book_id,
            "visit_type_id": book.dose1,
            "start": first["start"],
            "health_declaration": DECLARATION,
        },
    )
    assert r.status_code == 201, r.text
    booking = r.json()
    assert booking["column"] == 1 and booking["booked_by"] == "citizen"
    mine = await gw.get(f"/api/booking/patients/{booking['patient_id']}/bookings", headers=me)
    assert [b["booking_id"] for b in mine.json()] == [booking["booking_id"]]

    later = free.json()["times"][3]["start"]
    r = await gw.post(
        f"/api/booking/bookings/{booking['booking_id']}/rebook", headers=me, json={"start": later}
    )
    assert r.status_code == 200, r.text
    assert r.json()["start"] == later.replace("+00:00", "Z") or r.json()["start"].startswith(
        later[:16]
    )
    r = await gw.post(f"/api/booking/bookings/{booking['booking_id']}/cancel", headers=me)
    assert r.json()["status"] == "cancelled"
    again = await gw.post(f"/api/booking/bookings/{booking['booking_id']}/cancel", headers=me)
    assert again.status_code == 409

    # The clinician reads the declaration given with the booking (JR-6 groundwork).
    nurse = staff_headers(platform, Role.NURSE)
    d = await gw.get(
        f"/api/booking/bookings/{booking['booking_id']}/health-declaration", headers=nurse
    )
    assert d.status_code == 200
    assert d.json()["answers"]["fever"] == {"yes": False}

    records = await read_topic(
        platform.infra.kafka_bootstrap,
        BOOKING,
        until=lambda rs: sum(booking["booking_id"].encode() in x.value for x in rs) >= 4,
    )
    kinds = [
        json.loads(x.value)["type"] for x in records if booking["booking_id"].encode() in x.value
    ]
    kinds = [k for k in kinds if k.startswith("booking.Booking")]
    assert kinds == [
        "booking.BookingCreated",
        "booking.BookingRebooked",
        "booking.BookingCancelled",
    ]


async def test_bk2_reserve_number_and_protected_patients_cannot_self_book(
    gw: httpx.AsyncClient, platform: Platform
) -> None:
    book = await make_time_book(gw, platform, columns=1)
    (protected,) = SyntheticRegister().sample(1, seed=103, protected=True)
    me = citizen_headers(platform, protected.identifier)
    r = await gw.post("/api/identity/me", headers=me)
    assert (r.status_code, r.json()["code"]) == (403, "protected_identity")
    nurse = staff_headers(platform, Role.NURSE)
    r = await gw.post(
        "/api/identity/patients",
        headers=nurse,
        json={"identifier": protected.identifier, "given_name": "Kim", "family_name": "Skydd"},
    )
    free = (
        await gw.get(
            f"/api/booking/time-books/{book.time_book_id}/free-times",
            params={"visit_type_id": book.dose1, **day_range(book)},
            headers=me,
        )
    ).json()["times"]
    r = await gw.post(
        "/api/booking/bookings",
        headers=me,
        json={
            "time_book_id": book.time_book_id,
            "visit_type_id": book.dose1,
            "start": free[0]["start"],
            "health_declaration": DECLARATION,
        },
    )
    assert (r.status_code, r.json()["code"]) == (403, "no_self_booking")
    assert "Call the vaccination unit" in r.json()["message"]


async def sms_code(platform: Platform, mobile: str, reference: str) -> str:
    """The manage code from the confirmation SMS the provider stand-in received."""
    with platform.infra.standin("sms") as sms:

        def codes() -> list[str]:
            return [
                found.group(1)
                for r in sms.received("/sms/v1/messages")
                if r["body"]["to"] == mobile
                and (found := re.search(rf"{reference}, kod (\d{{6}})\.", r["body"]["text"]))
            ]

        async def texted() -> bool:
            return bool(codes())

        await eventually(texted, timeout=30)
        return codes()[-1]


async def test_bk3_staff_book_a_new_reserve_number_patient_who_manages_by_code(
    gw: httpx.AsyncClient, platform: Platform
) -> None:
    book = await make_time_book(gw, platform, columns=1)
    booker = staff_headers(platform, Role.BOOKING_ONLY)
    patient_id = await reserve_patient(gw, booker, "Okänd", "Patient")
    mobile = f"+4670{random.randrange(10**7):07d}"
    r = await gw.put(
        f"/api/identity/patients/{patient_id}/contact", json={"mobile": mobile}, headers=booker
    )
    assert r.status_code == 200, r.text  # any staff role may add the mobile (ID-8)
    start = local(book.day, 9, 0).isoformat()
    r = await book_for(gw, booker, book.time_book_id, book.dose1, start, patient_id)
    assert r.status_code == 201, r.text
    booking = r.json()
    # The code reaches the patient only by SMS (sealed on its way there): read it from the SMS.
    code = await sms_code(platform, mobile, booking["reference"])

    wrong = "000000" if code != "000000" else "111111"
    r = await gw.post(
        "/api/booking/manage/rebook",
        json={
            "reference": booking["reference"],
            "code": wrong,
            "start": local(book.day, 9, 30).isoformat(),
        },
    )
    assert r.status_code == 404
    r = await gw.post(
        "/api/booking/manage/rebook",
        json={
            "reference": booking["reference"],
            "code": code,
            "start": local(book.day, 9, 30).isoformat(),
        },
    )
    assert r.status_code == 200, r.text
    r = await gw.post(
        "/api/booking/manage/cancel", json={"reference": booking["reference"], "code": code}
    )
    assert r.json()["status"] == "cancelled"


async def test_bk4_a_time_takes_the_first_free_column_and_a_full_time_says_what_is_next(
    gw: httpx.AsyncClient, platform: Platform
) -> None:
    book = await make_time_book(gw, platform, columns=2)
    patients = await register_patients(gw, platform, 3, seed=107, mobiles=False)
    nurse = staff_headers(platform, Role.NURSE)
    start = local(book.day, 10, 0).isoformat()
    columns = []
    for pid in patients[:2]:
        r = await book_for(gw, nurse, book.time_book_id, book.dose1, start, pid)
        assert r.status_code == 201, r.text
        columns.append(r.json()["column"])
    assert columns == [1, 2]
    r = await book_for(gw, nurse, book.time_book_id, book.dose1, start, patients[2])
    assert (r.status_code, r.json()["code"]) == (409, "time_taken")
    assert r.json()["next_free_times"][0].startswith(
        local(book.day, 10, 5).astimezone().isoformat()[:10]
    )
    # Bad input, nothing written.
    for body, field in (
        (
            {
                "time_book_id": book.time_book_id,
                "visit_type_id": book.dose1,
                "start": local(book.day, 10, 2).isoformat(),
                "patient_id": patients[2],
            },
            "start",
        ),
        (
            {
                "time_book_id": book.time_book_id,
                "visit_type_id": "nope",
                "start": start,
                "patient_id": patients[2],
            },
            "visit_type_id",
        ),
        (
            {
                "time_book_id": book.time_book_id,
                "visit_type_id": book.other,
                "start": local(book.day, 10, 5).isoformat(),
                "patient_id": patients[2],
            },
            "start",
        ),
        (
            {
                "time_book_id": book.time_book_id,
                "visit_type_id": book.dose1,
                "start": "2026-01-01T10:00:00",
                "patient_id": patients[2],
            },
            "start",
        ),
    ):
        r = await gw.post("/api/booking/bookings", headers=nurse, json=body)
        assert (r.status_code, r.json()["details"][0]["field"]) == (422, field), r.text
    assert (await capacity(gw, platform, book.time_book_id, book.day.isoformat()))["booked"] == 2


async def test_bk6_mass_cancellation_cancels_the_range_and_closes_the_times(
    gw: httpx.AsyncClient, platform: Platform
) -> None:
    book = await make_time_book(gw, platform, columns=2)
    patients = await register_patients(gw, platform, 3, seed=109, mobiles=False)
    nurse = staff_headers(platform, Role.NURSE)
    for pid, (hh, mm) in zip(patients, ((9, 0), (9, 0), (11, 0)), strict=True):
        r = await book_for(
            gw, nurse, book.time_book_id, book.dose1, local(book.day, hh, mm).isoformat(), pid
        )
        assert r.status_code == 201, r.text
    r = await gw.post(
        f"/api/booking/time-books/{book.time_book_id}/mass-cancellations",
        headers=nurse,
        json={
            "start": local(book.day, 8, 0).isoformat(),
            "end": local(book.day, 10, 0).isoformat(),
            "message": "Vaccinleveransen uteblev. Vi ber om ursäkt.",
            "slots": "close",
        },
    )
    assert r.status_code == 201, r.text
    assert (r.json()["cancelled"], r.json()["patients"]) == (2, 2)
    cap = await capacity(gw, platform, book.time_book_id, book.day.isoformat())
    assert cap["booked"] == 1
    assert cap["closed"] == 24 * 2
    booker = staff_headers(platform, Role.BOOKING_ONLY)
    denied = await gw.post(
        f"/api/booking/time-books/{book.time_book_id}/mass-cancellations",
        headers=booker,
        json={
            "start": local(book.day, 8, 0).isoformat(),
            "end": local(book.day, 16, 0).isoformat(),
            "message": "x",
            "slots": "reopen",
        },
    )
    assert denied.status_code == 403


async def test_bk7_visit_type_with_future_bookings_cannot_be_deleted_but_renamed(
    gw: httpx.AsyncClient, platform: Platform
) -> None:
    book = await make_time_book(gw, platform, columns=1)
    (pid,) = await register_patients(gw, platform, 1, seed=113, mobiles=False)
    admin = staff_headers(platform, Role.TIME_BOOK_ADMIN)
    nurse = staff_headers(platform, Role.NURSE)
    r = await book_for(
        gw, nurse, book.time_book_id, book.dose2, local(book.day, 9, 0).isoformat(), pid
    )
    booking = r.json()
    r = await gw.delete(
        f"/api/booking/time-books/{book.time_book_id}/visit-types/{book.dose2}", headers=admin
    )
    assert (r.status_code, r.json()["code"]) == (409, "visit_type_in_use")
    assert [b["reference"] for b in r.json()["bookings"]] == [booking["reference"]]
    r = await gw.patch(
        f"/api/booking/time-books/{book.time_book_id}/visit-types/{book.dose2}",
        headers=admin,
        json={"name": "Covid-19 dos 2, Spikevax"},
    )
    assert r.status_code == 200
    # A future booking shows the new name, as its patient will be told at the visit (issue 8:
    # a rename such as a changed vaccine brand applies to the times still ahead).
    renamed = await gw.get(f"/api/booking/bookings/{booking['booking_id']}", headers=nurse)
    assert renamed.json()["visit_type_name"] == "Covid-19 dos 2, Spikevax"
    await gw.post(f"/api/booking/bookings/{booking['booking_id']}/cancel", headers=nurse)
    r = await gw.delete(
        f"/api/booking/time-books/{book.time_book_id}/visit-types/{book.dose2}", headers=admin
    )
    assert r.status_code == 200
    gone = next(v for v in r.json()["visit_types"] if v["visit_type_id"] == book.dose2)
    assert gone["deleted"] is True


async def test_bk9_bk11_notes_arrival_and_unit_scoping(
    gw: httpx.AsyncClient, platform: Platform
) -> None:
    book = await make_time_book(gw, platform, columns=1)
    (pid,) = await register_patients(gw, platform, 1, seed=127, mobiles=False)
    nurse = staff_headers(platform, Role.NURSE)
    r = await gw.put(
        f"/api/booking/time-books/{book.time_book_id}/notes/{book.day.isoformat()}",
        headers=nurse,
        json={"text": "Extra personal på plats 9-12"},
    )
    assert r.json()["note"] == "Extra personal på plats 9-12"
    r = await book_for(
        gw, nurse, book.time_book_id, book.dose1, local(book.day, 9, 0).isoformat(), pid
    )
    booking = r.json()
    r = await gw.post(f"/api/booking/bookings/{booking['booking_id']}/arrival", headers=nurse)
    assert r.json()["arrived_at"] is not None
    day = await gw.get(
        f"/api/booking/time-books/{book.time_book_id}/days/{book.day.isoformat()}", headers=nurse
    )
    row = next(s for s in day.json()["slots"] if s["booking_id"] == booking["booking_id"])
    assert row["arrived"] is True and row["patient_id"] == pid

    elsewhere = staff_headers(platform, Role.NURSE, unit_id="unit-motala")
    for r in (
        await gw.get(f"/api/booking/bookings/{booking['booking_id']}", headers=elsewhere),
        await gw.get(
            f"/api/booking/time-books/{book.time_book_id}/days/{book.day.isoformat()}",
            headers=elsewhere,
        ),
    ):
        assert (r.status_code, r.json()["code"]) == (403, "other_unit")
    listed = await gw.get(f"/api/booking/patients/{pid}/bookings", headers=elsewhere)
    assert listed.json() == []  # AC-5: bookings are visible within the unit only


async def test_bk12_declaration_without_booking_not_for_reserve_numbers(
    gw: httpx.AsyncClient, platform: Platform
) -> None:
    (person,) = SyntheticRegister().sample(1, seed=131, protected=False)
    me = citizen_headers(platform, person.identifier)
    await gw.post("/api/identity/me", headers=me)
    q = await gw.get(f"/api/booking/units/{UNIT}/questionnaire")
    assert q.status_code == 200 and q.json()["questions"]
    r = await gw.post(
        f"/api/booking/units/{UNIT}/health-declarations", headers=me, json=DECLARATION
    )
    assert r.status_code == 201, r.text
    nurse = staff_headers(platform, Role.NURSE)
    rid = await reserve_patient(gw, nurse, "A", "B")
    r = await gw.post(
        f"/api/booking/units/{UNIT}/health-declarations",
        headers=nurse,
        json={**DECLARATION, "patient_id": rid},
    )
    assert (r.status_code, r.json()["details"][0]["rule"]) == (422, "reserve_number")
    # A new version of the questions makes old answers outdated, saying which version to answer
    # (another unit, so the other tests keep the default questions).
    other_unit = "unit-norrkoping"
    admin = staff_headers(platform, Role.TIME_BOOK_ADMIN, unit_id=other_unit)
    r = await gw.put(
        f"/api/booking/units/{other_unit}/questionnaire",
        headers=admin,
        json={"questions": [{"question_id": "fever", "text": "Har du feber idag?"}]},
    )
    new_version = r.json()["version"]
    r = await gw.post(
        f"/api/booking/units/{other_unit}/health-declarations",
        headers=me,
        json={"version": new_version - 1, "answers": {"fever": {"yes": False}}},
    )
    assert (r.status_code, r.json()["details"][0]["rule"]) == (422, "outdated")
    r = await gw.post(
        f"/api/booking/units/{other_unit}/health-declarations",
        headers=me,
        json={"version": new_version, "answers": {"fever": {"yes": False}}},
    )
    assert r.status_code == 201


async def test_bk1_concurrent_overlapping_openings_one_opens_the_others_get_409(
    gw: httpx.AsyncClient, platform: Platform
) -> None:
    """Five staff open overlapping times in one column at the same moment: the database's
    exclusion constraint lets one through and the others get the same 409 as the pre-check."""
    admin = staff_headers(platform, Role.TIME_BOOK_ADMIN)
    book = await make_time_book(gw, platform, columns=2, hours=(8, 9))
    day = (book.day + timedelta(days=7)).isoformat()

    async def opening(i: int) -> httpx.Response:
        return await gw.post(
            f"/api/booking/time-books/{book.time_book_id}/slots",
            headers=admin,
            json={
                "resource": "nurse",
                "columns": [1, 2],
                "first_day": day,
                "last_day": day,
                "day_start": f"08:{5 * i:02d}",
                "day_end": "12:00",
                "slot_minutes": 10 + 5 * i,
            },
        )

    answers = await asyncio.gather(*(opening(i) for i in range(5)))
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409, 409], [
        r.text for r in answers
    ]
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {"overlapping_slots"}
    (won,) = [r.json() for r in answers if r.status_code == 201]
    assert (await capacity(gw, platform, book.time_book_id, day))["opened"] == won["opened"]


async def test_id2_staff_books_patient_the_moment_identity_added_it(
    gw: httpx.AsyncClient, platform: Platform
) -> None:
    """Booking accepts every patient identity knows, even before its projection has consumed
    the registration: it asks identity once and remembers (issue 7 item 10)."""
    book = await make_time_book(gw, platform, columns=1)
    nurse = staff_headers(platform, Role.NURSE)
    people = SyntheticRegister().sample(12, seed=137, protected=False)

    async def register_and_book(i: int, identifier: str) -> tuple[str, httpx.Response]:
        r = await gw.post("/api/identity/patients", headers=nurse, json={"identifier": identifier})
        assert r.status_code in (200, 201), r.text
        patient_id: str = r.json()["patient_id"]
        start = local(book.day, 9, 5 * i).isoformat()
        return patient_id, await book_for(
            gw, nurse, book.time_book_id, book.dose1, start, patient_id
        )

    booked = await asyncio.gather(
        *(register_and_book(i, p.identifier) for i, p in enumerate(people))
    )
    for patient_id, r in booked:
        assert r.status_code == 201, r.text
        assert r.json()["patient_id"] == patient_id
    # What identity answered is kept in booking's projection, as the event would have put it.
    conn = await asyncpg.connect(plain_url(platform.infra.database_url("booking")))
    try:
        rows = await conn.fetch(
            "SELECT patient_id, identifier_kind, protected FROM patients "
            "WHERE patient_id = ANY($1::text[])",
            [pid for pid, _ in booked],
        )
    finally:
        await conn.close()
    assert {row["patient_id"] for row in rows} == {pid for pid, _ in booked}
    assert all(row["identifier_kind"] == "personnummer" for row in rows)
    assert not any(row["protected"] for row in rows)


async def test_bk5_retries_with_an_idempotency_key_repeat_the_answer_never_the_change(
    gw: httpx.AsyncClient, platform: Platform
) -> None:
    """A client that lost the answer retries with the same Idempotency-Key: book, rebook and
    cancel each happen once, and the retry gets the first answer (issue 7 item 9)."""
    book = await make_time_book(gw, platform, columns=1)
    (patient,) = await register_patients(gw, platform, 1, seed=131, mobiles=False)
    nurse = staff_headers(platform, Role.NURSE)
    body = {
        "time_book_id": book.time_book_id,
        "visit_type_id": book.dose1,
        "start": local(book.day, 9, 0).isoformat(),
        "patient_id": patient,
    }
    key = {**nurse, "Idempotency-Key": "book-131"}
    first = await gw.post("/api/booking/bookings", headers=key, json=body)
    again = await gw.post("/api/booking/bookings", headers=key, json=body)
    assert (first.status_code, again.status_code) == (201, 201), again.text
    assert again.json() == first.json()
    booking_id = first.json()["booking_id"]
    mine = await gw.get(f"/api/booking/patients/{patient}/bookings", headers=nurse)
    assert [b["booking_id"] for b in mine.json()] == [booking_id]  # one booking, not two

    # The same key for another request is the client's mistake, named as such.
    other = await gw.post(
        "/api/booking/bookings",
        headers=key,
        json={**body, "start": local(book.day, 9, 5).isoformat()},
    )
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")

    later = local(book.day, 11, 0).isoformat()
    move = {**nurse, "Idempotency-Key": "rebook-131"}
    moved = await gw.post(
        f"/api/booking/bookings/{booking_id}/rebook", headers=move, json={"start": later}
    )
    moved_again = await gw.post(
        f"/api/booking/bookings/{booking_id}/rebook", headers=move, json={"start": later}
    )
    assert (moved.status_code, moved_again.status_code) == (200, 200), moved_again.text
    assert moved_again.json() == moved.json()

    stop = {**nurse, "Idempotency-Key": "cancel-131"}
    cancelled = await gw.post(f"/api/booking/bookings/{booking_id}/cancel", headers=stop)
    cancelled_again = await gw.post(f"/api/booking/bookings/{booking_id}/cancel", headers=stop)
    assert (cancelled.status_code, cancelled_again.status_code) == (200, 200)
    assert cancelled_again.json() == cancelled.json()
    # Without the key, a second cancel is a conflict: the retry above was recognised as one.
    plain = await gw.post(f"/api/booking/bookings/{booking_id}/cancel", headers=nurse)
    assert plain.status_code == 409

    events = await read_topic(
        platform.infra.kafka_bootstrap,
        BOOKING,
        until=lambda rs: any(
            json.loads(r.value)["type"] == "booking.BookingCancelled"
            and json.loads(r.value)["data"]["booking_id"] == booking_id
            for r in rs
        ),
        timeout=20,
    )
    kinds = [
        json.loads(r.value)["type"]
        for r in events
        if json.loads(r.value)["data"].get("booking_id") == booking_id
    ]
    assert kinds == [
        "booking.BookingCreated",
        "booking.BookingRebooked",
        "booking.BookingCancelled",
    ]
