"""RX-4 over the real platform: statistics for regional infection control, from identity's,
the journal's and the inventory's events, read through the gateway.

A vaccine of this test's own (so no other test's doses are counted) is added to the journal's
catalogue and checked in at a new unit; four persons of the synthetic register are registered
in identity, one of them protected (ID-3), and given doses through the journal; one has dose 1
entered as history (given abroad) and dose 2 given here. Then:

- the unit's coverage counts the four persons given doses there, each once;
- the region's, each municipality's and each age band's population are the register's own
  counts (counted here, person by person), published by identity when it loaded the register;
- the protected person's dose counts at the unit, in the region and in the age band, never in
  a municipality, not even the one the register has them in;
- the unit's stock: the delivery, the doses administered, the balance left;
- who may read: the stock administrators of any unit and the registry operators' client, not
  a nurse."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest

from tests.journal_support import Unit, check_in, give, new_unit, order
from vaccinera_contracts.roles import Role
from vaccinera_devstack import tokens
from vaccinera_devstack.platform import Platform
from vaccinera_devstack.testing import eventually

pytestmark = pytest.mark.infra

COVERAGE, STOCK = (
    "/api/registry-export/statistics/coverage",
    "/api/registry-export/statistics/stock",
)
# Folkhälsomyndigheten's age bands, written out: (last age, name).
BANDS = [(11, "0-11"), (15, "12-15"), (17, "16-17"), (29, "18-29"), (39, "30-39")]
BANDS += [(49, "40-49"), (59, "50-59"), (64, "60-64"), (69, "65-69"), (79, "70-79")]


def band(born: date, on: date) -> str:
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    return next((name for last, name in BANDS if age <= last), "80+")


def operator(platform: Platform) -> dict[str, str]:
    """The registry operators' client (client credentials): no person, no AC-3 role."""
    token = tokens.mint(platform.keys, tokens.service_claims("registry-operator"))
    return {"authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def register() -> Any:
    from vaccinera_identity.population import SyntheticRegister

    return SyntheticRegister()


@pytest.fixture(scope="module")
def counted(register: Any) -> dict[str, Counter[str]]:
    """The register counted here, person by person: per municipality (protected persons
    apart) and per age band on the register's day."""
    municipalities: Counter[str] = Counter()
    bands: Counter[str] = Counter()
    for row in register.rows():
        if not row.protected:
            municipalities[row.municipality_code] += 1
        bands[band(row.birth_date, register.today)] += 1
    return {"municipality": municipalities, "age_band": bands}


def _rows(answer: dict[str, Any]) -> dict[tuple[str | None, int], dict[str, Any]]:
    return {(r["key"], r["dose_number"]): r for r in answer["rows"]}


async def test_rx4_coverage_and_stock_over_the_platform(
    gw: httpx.AsyncClient,
    platform: Platform,
    journal_db: asyncpg.Connection,
    register: Any,
    counted: dict[str, Counter[str]],
) -> None:
    unit = Unit(platform, new_unit())
    admin = unit.stock_admin
    suffix = uuid.uuid4().hex[:8]
    vaccine = f"vaccine-rx4-{suffix}"
    r = await gw.post(
        "/api/journal/vaccines",
        headers=admin,
        json={
            "vaccine_id": vaccine,
            "name": f"Statistikvaccin {suffix}",
            "manufacturer": "Smittskydd AB",
            "atc_code": "J07BN01",
            "doses_in_series": 2,
            "min_interval_days": 21,
        },
    )
    assert r.status_code == 201, r.text
    batch = await check_in(gw, journal_db, unit, vaccine, f"Statistikvaccin {suffix}", 10)

    # The persons: a protected one, one of the same municipality, and two more.
    seed = random.randrange(10**9)
    (hidden,) = register.sample(1, seed=seed, protected=True)
    people = register.sample(400, seed=seed + 1, protected=False)
    neighbour = next(p for p in people if p.municipality_code == hidden.municipality_code)
    others = [p for p in people if p is not neighbour][:2]
    persons = [hidden, neighbour, *others]
    nurse = unit.nurse
    ids = []
    for p in persons:
        body = {"identifier": p.identifier}
        if p.protected:  # the register gives no name: staff type it (ID-3)
            body |= {"given_name": "Skyddad", "family_name": "Person"}
        r = await gw.post("/api/identity/patients", headers=nurse, json=body)
        assert r.status_code in (200, 201), r.text
        ids.append(r.json()["patient_id"])
    abroad = ids[-1]

    # Dose 1 at the unit for the first three; the last had dose 1 abroad and gets dose 2 here.
    r = await gw.post(
        f"/api/journal/patients/{abroad}/historical-doses",
        headers=nurse,
        json={
            "vaccine_id": vaccine,
            "dose_number": 1,
            "given_on": "2021-06-01",
            "country": "NO",
            "comment": "Given i Norge enligt vaccinationskort",
        },
    )
    assert r.status_code == 201, r.text
    for patient_id, dose in [*((i, 1) for i in ids[:-1]), (abroad, 2)]:
        ordered = await order(gw, unit.doctor, patient_id, [dose], vaccine_id=vaccine)
        assert ordered.status_code == 201, ordered.text
        given = await give(gw, nurse, ordered.json()["orders"][0]["order_id"], batch["batch_id"])
        assert given.status_code == 201, given.text

    async def read(path: str, **params: Any) -> dict[str, Any]:
        r = await gw.get(path, headers=admin, params=params)
        assert r.status_code == 200, r.text
        answer: dict[str, Any] = r.json()
        return answer

    # --- where the dose was given ------------------------------------------------------------
    at_unit: dict[tuple[str | None, int], dict[str, Any]] = {}

    async def unit_counted() -> bool:
        nonlocal at_unit
        at_unit = _rows(await read(COVERAGE, by="unit", vaccine_id=vaccine))
        return {k: r["persons"] for k, r in at_unit.items()} == {
            (unit.unit_id, 1): 4,
            (unit.unit_id, 2): 1,
        }

    await eventually(unit_counted, timeout=60, interval=0.5)
    assert all(r["population"] is None and r["share"] is None for r in at_unit.values())
    assert at_unit[(unit.unit_id, 1)]["vaccine_name"] == f"Statistikvaccin {suffix}"
    provider = _rows(await read(COVERAGE, by="care_provider", vaccine_id=vaccine))
    assert provider[(unit.provider, 1)]["persons"] == 4

    # --- the person's, against the register ---------------------------------------------------
    by_municipality: dict[tuple[str | None, int], dict[str, Any]] = {}
    expected = Counter(p.municipality_code for p in persons if not p.protected)

    async def placed() -> bool:
        nonlocal by_municipality
        answer = await read(COVERAGE, by="municipality", vaccine_id=vaccine, dose_number=1)
        by_municipality = _rows(answer)
        got = {k: r["persons"] for (k, _), r in by_municipality.items() if r["persons"]}
        return answer["population_counted_at"] is not None and got == {**expected, None: 1}

    await eventually(placed, timeout=60, interval=0.5)
    # Every municipality's population is the register's count without protected persons.
    assert {k: r["population"] for (k, _), r in by_municipality.items() if k is not None} == dict(
        counted["municipality"]
    )
    # The protected person's municipality counts only the neighbour (ID-3).
    home = by_municipality[(hidden.municipality_code, 1)]
    assert home["persons"] == expected[hidden.municipality_code]
    assert home["share"] == round(home["persons"] / home["population"], 4)
    assert by_municipality[(None, 1)]["population"] is None

    region = await read(COVERAGE, by="region", vaccine_id=vaccine)
    assert region["ages_on"] == register.today.isoformat()
    assert {k: (r["persons"], r["population"]) for k, r in _rows(region).items()} == {
        ("region", 1): (4, register.total_population()),
        ("region", 2): (1, register.total_population()),
    }

    ages = _rows(await read(COVERAGE, by="age_band", vaccine_id=vaccine, dose_number=1))
    assert {k: r["population"] for (k, _), r in ages.items()} == dict(counted["age_band"])
    assert sum(counted["age_band"].values()) == register.total_population()
    by_band = Counter(band(p.birth_date, register.today) for p in persons)  # the protected too
    assert {k: r["persons"] for (k, _), r in ages.items() if r["persons"]} == dict(by_band)

    # --- stock and consumption ------------------------------------------------------------
    stock: dict[str, Any] = {}

    async def stock_counted() -> bool:
        nonlocal stock
        rows = (await read(STOCK, by="unit"))["rows"]
        stock = next((s for s in rows if s["key"] == unit.unit_id), {})
        return bool(stock) and stock["administered"] == 4

    await eventually(stock_counted, timeout=60, interval=0.5)
    assert stock["vaccine_id"] == vaccine and stock["care_provider_id"] == unit.provider
    assert (stock["balance"], stock["usable"], stock["delivered"]) == (6, 6, 10)
    assert (stock["discarded"], stock["expired"]) == (0, 0)

    # --- who reads -----------------------------------------------------------------------------
    elsewhere = Unit(platform, new_unit(), provider="provider-privat").stock_admin
    for headers in (elsewhere, operator(platform)):
        for path in (COVERAGE, STOCK):
            assert (await gw.get(path, headers=headers)).status_code == 200
    for role in (Role.NURSE, Role.DOCTOR, Role.TIME_BOOK_ADMIN):
        r = await gw.get(COVERAGE, headers=getattr(unit, role.value))
        assert r.status_code == 403, (role, r.text)
    r = await gw.get(STOCK, headers=admin, params={"from": "2026-02-01", "to": "2026-01-01"})
    assert r.status_code == 422
    assert r.json()["details"][0]["field"] == "to"
