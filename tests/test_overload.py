"""Overload without lies (issue 7 item 9; BK-4, BK-2): 600 citizens book 100 times at once
through the gateway while booking admits only a few requests at a time.

Every answer is one a citizen can act on: 201 (booked), 409 (taken: choose another time) or
503 (busy: nothing was changed, try again). A citizen told 503 holds no booking; retrying with
the same Idempotency-Key never books anyone twice, and a retry of a success returns the same
booking. When every citizen has a final answer, exactly the 100 times are booked.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.booking_support import DECLARATION, local, make_time_book
from tests.conftest import citizen_headers, staff_headers
from vaccinera_contracts.roles import Role
from vaccinera_devstack.platform import Platform, PlatformPorts
from vaccinera_identity.population import SyntheticRegister
from vaccinera_kit.database import async_url

pytestmark = pytest.mark.infra

CITIZENS = 600
COLUMNS = 10
TIMES = 10  # 08:00-08:45 every 5 minutes in 10 columns: 100 slots
IN_FLIGHT = 8  # booking admits this many requests at a time, per process


@pytest.fixture(scope="module")
def busy_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform whose booking service is small on purpose, so the rush overloads it."""
    base = tmp_path_factory.mktemp("overload")
    with Platform(
        base,
        PlatformPorts.free(),
        service_env_overrides={"booking": {"VACCINERA_MAX_IN_FLIGHT": str(IN_FLIGHT)}},
    ) as running:
        yield running


@dataclass
class Citizen:
    headers: dict[str, str]
    patient_id: str
    start: str
    key: str


async def register_citizens(
    gw: httpx.AsyncClient, platform: Platform, identifiers: list[str], starts: list[str]
) -> list[Citizen]:
    gate = asyncio.Semaphore(20)

    async def one(identifier: str, start: str) -> Citizen:
        async with gate:
            # Minted here, not all 600 up front: that takes long enough for the server to
            # close the client's idle keep-alive connections.
            headers = citizen_headers(platform, identifier)
            r = await gw.post("/api/identity/me", headers=headers)
        assert r.status_code in (200, 201), r.text
        return Citizen(headers, r.json()["patient_id"], start, str(uuid.uuid4()))

    return list(
        await asyncio.gather(
            *(one(identifier, starts[i % len(starts)]) for i, identifier in enumerate(identifiers))
        )
    )


UNKNOWN = 0  # no answer reached the client (connection lost): it cannot know what happened


@dataclass
class Answer:
    status_code: int
    response: httpx.Response | None

    def json(self) -> Any:
        assert self.response is not None
        return self.response.json()


async def book(
    gw: httpx.AsyncClient, citizen: Citizen, time_book_id: str, visit_type: str
) -> Answer:
    """One attempt; a lost connection is an unknown outcome, which the client retries with
    the same key exactly like a 503."""
    try:
        response = await _post_booking(gw, citizen, time_book_id, visit_type)
    except httpx.TransportError:
        return Answer(UNKNOWN, None)
    return Answer(response.status_code, response)


async def _post_booking(
    gw: httpx.AsyncClient, citizen: Citizen, time_book_id: str, visit_type: str
) -> httpx.Response:
    return await gw.post(
        "/api/booking/bookings",
        headers={**citizen.headers, "Idempotency-Key": citizen.key},
        json={
            "time_book_id": time_book_id,
            "visit_type_id": visit_type,
            "start": citizen.start,
            "health_declaration": DECLARATION,
        },
    )


async def active_bookings(gw: httpx.AsyncClient, citizen: Citizen) -> list[dict[str, object]]:
    for _ in range(50):  # the check itself may meet a busy service
        r = await gw.get(
            f"/api/booking/patients/{citizen.patient_id}/bookings", headers=citizen.headers
        )
        if r.status_code != 503:
            assert r.status_code == 200, r.text
            return [b for b in r.json() if b["status"] == "booked"]
        await asyncio.sleep(0.2)
    raise AssertionError("booking stayed busy for a simple read")


async def test_bk4_overload_answers_are_true_and_retries_with_the_key_never_book_twice(
    busy_platform: Platform,
) -> None:
    platform = busy_platform
    # Drawn before any connection is open: building the register takes seconds, and an idle
    # keep-alive connection would be closed by the server meanwhile.
    people = [
        p.identifier for p in SyntheticRegister().sample(CITIZENS, seed=6060, protected=False)
    ]
    limits = httpx.Limits(max_connections=CITIZENS + 50, max_keepalive_connections=CITIZENS)
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=60, limits=limits) as gw:
        tb = await make_time_book(gw, platform, columns=COLUMNS, hours=(8, 9), slot_minutes=5)
        admin = staff_headers(platform, Role.TIME_BOOK_ADMIN)
        r = await gw.post(
            f"/api/booking/time-books/{tb.time_book_id}/time-blocks",
            headers=admin,
            json={
                "resource": "nurse",
                "start": local(tb.day, 8, 5 * TIMES).isoformat(),
                "end": local(tb.day, 9, 0).isoformat(),
                "label": "Städning",
            },
        )
        assert r.status_code == 201, r.text
        starts = [local(tb.day, 8, 5 * i).isoformat() for i in range(TIMES)]
        citizens = await register_citizens(gw, platform, people, starts)

        # Everyone at once.
        first = await asyncio.gather(*(book(gw, c, tb.time_book_id, tb.dose1) for c in citizens))
        statuses = Counter(r.status_code for r in first)
        assert set(statuses) <= {201, 409, 503, UNKNOWN}, statuses
        assert statuses[503] > 0, "the rush should have overloaded a service this small"
        for answer in first:
            if answer.status_code == 503:
                assert answer.response is not None
                assert answer.response.headers.get("retry-after"), "a busy answer says when"
                assert "Nothing was changed" in answer.json()["message"]

        # A citizen told "busy" holds no booking.
        told_busy = [c for c, r in zip(citizens, first, strict=True) if r.status_code == 503]
        holdings = await asyncio.gather(*(active_bookings(gw, c) for c in told_busy))
        assert all(held == [] for held in holdings)

        # Retrying a success with its key returns the same booking, not a second one.
        won = {
            c.patient_id: r.json()
            for c, r in zip(citizens, first, strict=True)
            if r.status_code == 201
        }
        winners = [c for c in citizens if c.patient_id in won]
        replays = await asyncio.gather(*(book(gw, c, tb.time_book_id, tb.dose1) for c in winners))
        for citizen, replay in zip(winners, replays, strict=True):
            if replay.status_code in (503, UNKNOWN):
                continue  # busy again; the final count below still proves no second booking
            assert replay.status_code == 201, replay.json()
            assert replay.json()["booking_id"] == won[citizen.patient_id]["booking_id"]

        # Everyone told "busy" (or left without an answer) retries with the same key until the
        # answer is final.
        final = {c.patient_id: r.status_code for c, r in zip(citizens, first, strict=True)}
        pending = [
            c for c, r in zip(citizens, first, strict=True) if r.status_code in (503, UNKNOWN)
        ]
        for _ in range(60):
            if not pending:
                break
            answers = await asyncio.gather(
                *(book(gw, c, tb.time_book_id, tb.dose1) for c in pending)
            )
            for citizen, answer in zip(pending, answers, strict=True):
                final[citizen.patient_id] = answer.status_code
            pending = [
                c for c, a in zip(pending, answers, strict=True) if a.status_code in (503, UNKNOWN)
            ]
            await asyncio.sleep(0.5)
        assert not pending, f"{len(pending)} citizens never got past 'busy'"

    outcome = Counter(final.values())
    assert outcome == {201: 100, 409: CITIZENS - 100}, outcome

    engine = create_async_engine(async_url(platform.infra.database_url("booking")))
    try:
        async with engine.connect() as conn:
            per_patient = (
                await conn.execute(
                    text(
                        "SELECT patient_id, count(*) FROM bookings WHERE status = 'booked' "
                        "AND time_book_id = :tb GROUP BY patient_id"
                    ),
                    {"tb": tb.time_book_id},
                )
            ).all()
            slots = await conn.scalar(
                text(
                    "SELECT count(DISTINCT slot_id) FROM bookings WHERE status = 'booked' "
                    "AND time_book_id = :tb"
                ),
                {"tb": tb.time_book_id},
            )
    finally:
        await engine.dispose()
    assert len(per_patient) == 100 and {n for _, n in per_patient} == {1}  # nobody twice
    assert slots == 100
    booked_patients = {pid for pid, _ in per_patient}
    assert booked_patients == {pid for pid, status in final.items() if status == 201}
