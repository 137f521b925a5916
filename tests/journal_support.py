"""Shared steps for journal and registry-export tests: a unit's staff by role, registered
patients, a delivery the journal can give from, orders and doses through the gateway."""

from __future__ import annotations

import io
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from pypdf import PdfReader

from tests.booking_support import register_patients
from vaccinera_contracts.roles import Role
from vaccinera_devstack import tokens
from vaccinera_devstack.platform import Platform
from vaccinera_devstack.testing import eventually

PROVIDER, OTHER_PROVIDER = "provider-region", "provider-privat"
COMIRNATY, SPIKEVAX, VAXZEVRIA = "vaccine-comirnaty", "vaccine-spikevax", "vaccine-vaxzevria"
# The day in Sweden now (the journal's calendar).
TODAY = datetime.now(UTC).astimezone(ZoneInfo("Europe/Stockholm")).date()


def new_unit() -> str:
    return f"unit-jr-{uuid.uuid4().hex[:8]}"


def staff(platform: Platform, role: Role, unit_id: str, provider: str = PROVIDER) -> dict[str, str]:
    token = tokens.staff_token(platform.keys, role, unit_id=unit_id, care_provider_id=provider)
    return {"authorization": f"Bearer {token}"}


class Unit:
    """One vaccination unit's staff, by role."""

    def __init__(self, platform: Platform, unit_id: str, provider: str = PROVIDER) -> None:
        self.unit_id = unit_id
        self.provider = provider
        self.platform = platform

    def __getattr__(self, role: str) -> dict[str, str]:
        return staff(self.platform, Role(role), self.unit_id, self.provider)


async def patients(gw: httpx.AsyncClient, platform: Platform, count: int) -> list[str]:
    return await register_patients(gw, platform, count, seed=random.randrange(10**9), mobiles=False)


async def check_in(
    gw: httpx.AsyncClient,
    journal_db: asyncpg.Connection,
    unit: Unit,
    vaccine_id: str,
    vaccine_name: str,
    doses: int,
) -> dict[str, Any]:
    """A delivery checked in at the unit (IN-1), once the journal can give doses from it."""
    r = await gw.post(
        f"/api/inventory/units/{unit.unit_id}/deliveries",
        headers=unit.stock_admin,
        json={
            "vaccine_id": vaccine_id,
            "vaccine_name": vaccine_name,
            "batch_number": f"FK{uuid.uuid4().hex[:6].upper()}",
            "expires_on": (TODAY + timedelta(days=90)).isoformat(),
            "doses": doses,
        },
    )
    assert r.status_code == 201, r.text
    batch: dict[str, Any] = r.json()

    async def journal_knows() -> bool:
        found = await journal_db.fetchval(
            "SELECT available FROM batches WHERE batch_id = $1", batch["batch_id"]
        )
        return found == doses

    await eventually(journal_knows, timeout=30)
    return batch


async def order(
    gw: httpx.AsyncClient,
    headers: dict[str, str],
    patient_id: str,
    dose_numbers: list[int],
    vaccine_id: str | None = COMIRNATY,
    **more: Any,
) -> httpx.Response:
    body: dict[str, Any] = {"dose_numbers": dose_numbers, **more}
    if vaccine_id is not None:
        body["vaccine_id"] = vaccine_id
    return await gw.post(f"/api/journal/patients/{patient_id}/orders", headers=headers, json=body)


async def give(
    gw: httpx.AsyncClient, headers: dict[str, str], order_id: str, batch_id: str, **more: Any
) -> httpx.Response:
    return await gw.post(
        f"/api/journal/orders/{order_id}/administration",
        headers=headers,
        json={"batch_id": batch_id, **more},
    )


async def ordered(gw: httpx.AsyncClient, unit: Unit, patient_id: str, dose: int = 1) -> str:
    r = await order(gw, unit.doctor, patient_id, [dose])
    assert r.status_code == 201, r.text
    order_id: str = r.json()["orders"][0]["order_id"]
    return order_id


async def record(gw: httpx.AsyncClient, headers: dict[str, str], patient_id: str) -> Any:
    r = await gw.get(f"/api/journal/patients/{patient_id}/vaccinations", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def balance(gw: httpx.AsyncClient, unit: Unit, batch_id: str) -> int:
    r = await gw.get(f"/api/inventory/batches/{batch_id}", headers=unit.stock_admin)
    assert r.status_code == 200, r.text
    return int(r.json()["balance"])


def pdf_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    return "\n".join(page.extract_text() for page in reader.pages)
