"""BK-4 and NT-1/NT-4 under a rush: 200 concurrent clients on 50 open times through the gateway,
the real Kafka and PostgreSQL. Exactly 50 bookings, the rest 409, the overview exact, and the SMS
provider holds exactly one confirmation per booking."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.booking_support import local, make_time_book, register_patients
from tests.conftest import staff_headers
from vaccinera_contracts.roles import Role
from vaccinera_devstack.platform import Platform, PlatformPorts
from vaccinera_devstack.testing import eventually

pytestmark = pytest.mark.infra

CLIENTS = 200
COLUMNS = 5
TIMES = 10  # 08:00-08:50 every 5 minutes: 10 times x 5 columns = 50 slots


@pytest.fixture(scope="module")
def rush_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform of its own, so the rush meets no load left by earlier tests. Slow answers are
    still answers: the gateway waits up to two minutes for them here."""
    base = tmp_path_factory.mktemp("rush")
    with Platform(base, PlatformPorts.free(), extra_env={"VACCINERA_UPSTREAM_TIMEOUT": "120"}) as p:
        yield p


async def test_bk4_nt4_rush_of_200_clients_on_50_slots(rush_platform: Platform) -> None:
    platform = rush_platform
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=180, limits=limits) as gw:
        book = await make_time_book(gw, platform, columns=COLUMNS, hours=(8, 9), slot_minutes=5)
        # 08:00-09:00 opens 12 times; the last two are blocked so exactly 50 stay bookable.
        admin = staff_headers(platform, Role.TIME_BOOK_ADMIN)
        r = await gw.post(
            f"/api/booking/time-books/{book.time_book_id}/time-blocks",
            headers=admin,
            json={
                "resource": "nurse",
                "start": local(book.day, 8, 50).isoformat(),
                "end": local(book.day, 9, 0).isoformat(),
                "label": "Städning",
            },
        )
        assert r.status_code == 201, r.text
        patients = await register_patients(gw, platform, CLIENTS, seed=9001)
        nurse = staff_headers(platform, Role.BOOKING_ONLY)
        starts = [local(book.day, 8, 5 * (i % TIMES)).isoformat() for i in range(CLIENTS)]

        async def client(patient_id: str, start: str) -> httpx.Response:
            return await gw.post(
                "/api/booking/bookings",
                headers=nurse,
                json={
                    "time_book_id": book.time_book_id,
                    "visit_type_id": book.dose1,
                    "start": start,
                    "patient_id": patient_id,
                },
            )

        responses = await asyncio.gather(
            *(client(p, s) for p, s in zip(patients, starts, strict=True))
        )
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: 50, 409: 150}, statuses
        won = [r.json() for r in responses if r.status_code == 201]
        assert len({(b["start"], b["column"]) for b in won}) == 50  # no slot twice
        assert all(r.json()["code"] == "time_taken" for r in responses if r.status_code == 409)

        r = await gw.get(
            f"/api/booking/time-books/{book.time_book_id}/capacity",
            headers=nurse,
            params={"from": book.day.isoformat(), "to": book.day.isoformat()},
        )
        (nurse_day,) = [d for d in r.json()["days"] if d["resource"] == "nurse"]
        assert (nurse_day["booked"], nurse_day["free"]) == (50, 0)

    references = {b["reference"] for b in won}
    sms = platform.infra.standin("sms")

    def confirmations() -> Counter[str]:
        seen: Counter[str] = Counter()
        for record in sms.received("/sms/v1/messages"):
            if record.get("replayed") or record.get("status", 202) >= 300:
                continue
            text = str((record.get("body") or {}).get("text", ""))
            for ref in references:
                if ref in text:
                    seen[ref] += 1
        return seen

    async def all_sent() -> bool:
        return len(confirmations()) == 50

    await eventually(all_sent, timeout=90, interval=0.5)
    assert set(confirmations().values()) == {1}  # one confirmation per booking, none twice
