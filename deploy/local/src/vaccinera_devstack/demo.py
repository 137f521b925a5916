"""Demo data loaded by the start command, through the gateway like any client would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import httpx

from vaccinera_contracts.roles import Role
from vaccinera_devstack import tokens
from vaccinera_devstack.idp import directory
from vaccinera_identity.population import SyntheticRegister

DEMO_TIME_BOOK = "Covid-19 och influensa (demo)"


@dataclass(frozen=True)
class DemoTimeBook:
    time_book_id: str
    visit_types: dict[str, str]  # name -> id
    first_day: date


def open_time_book(gateway_url: str, keys: tokens.DevKeys) -> DemoTimeBook:
    """A time book at Vaccinationsmottagningen Linköping with dose-1 and dose-2 visit types and
    times open on weekdays 08:00-16:00 for the next two weeks (BK-1)."""
    headers = {
        "authorization": f"Bearer {tokens.demo_staff_token(keys, Role.TIME_BOOK_ADMIN, unit_id='unit-centrum')}"
    }
    unit = directory.unit("unit-centrum")
    assert unit is not None
    with httpx.Client(base_url=gateway_url, headers=headers, timeout=60) as client:
        existing = client.get(f"/api/booking/units/{unit.id}/time-books")
        existing.raise_for_status()
        for book in existing.json():
            if book["name"] == DEMO_TIME_BOOK:
                return DemoTimeBook(
                    book["time_book_id"],
                    {v["name"]: v["visit_type_id"] for v in book["visit_types"]},
                    date.today(),
                )
        r = client.post(
            "/api/booking/time-books",
            json={
                "unit_id": unit.id,
                "unit_name": unit.name,
                "name": DEMO_TIME_BOOK,
                "resources": [
                    {"resource": "nurse", "columns": 3},
                    {"resource": "doctor", "columns": 1},
                ],
            },
        )
        r.raise_for_status()
        tb = r.json()["time_book_id"]
        for name, dose in (
            ("Covid-19 dos 1, Comirnaty", 1),
            ("Covid-19 dos 2, Comirnaty", 2),
            ("Influensa", None),
        ):
            r = client.post(
                f"/api/booking/time-books/{tb}/visit-types",
                json={
                    "name": name,
                    "category": "Vaccination",
                    "resource": "nurse",
                    "duration_minutes": 5,
                    "dose": dose,
                },
            )
            r.raise_for_status()
        first = date.today() + timedelta(days=1)
        r = client.post(
            f"/api/booking/time-books/{tb}/slots",
            json={
                "resource": "nurse",
                "columns": [1, 2, 3],
                "first_day": first.isoformat(),
                "last_day": (first + timedelta(days=13)).isoformat(),
                "day_start": "08:00",
                "day_end": "16:00",
                "slot_minutes": 5,
            },
        )
        r.raise_for_status()
        book = client.get(f"/api/booking/units/{unit.id}/time-books").json()
        types = next(
            {v["name"]: v["visit_type_id"] for v in b["visit_types"]}
            for b in book
            if b["time_book_id"] == tb
        )
        return DemoTimeBook(tb, types, first)


# The demo unit's stock (IN-1) and quick list (IN-4): vaccines of the journal's catalogue.
DEMO_STOCK = (
    ("vaccine-comirnaty", "Comirnaty", "FK7351", 600, 60),
    ("vaccine-spikevax", "Spikevax", "3004217", 200, 45),
    ("vaccine-influvac-tetra", "Influvac Tetra", "Q47", 300, 120),
)
DEMO_QUICK_LIST = ("vaccine-comirnaty", "vaccine-influvac-tetra", "vaccine-spikevax")


def open_stock(gateway_url: str, keys: tokens.DevKeys) -> list[dict[str, object]]:
    """Vaccinationsmottagningen Linköping's stock: a delivery of each demo vaccine, a
    low-stock level for Comirnaty and the quick list, its first the order form's default.
    Left as it is when the unit already has stock (a restart on kept data)."""
    token = tokens.demo_staff_token(keys, Role.STOCK_ADMIN, unit_id="unit-centrum")
    names = {vaccine_id: name for vaccine_id, name, *_ in DEMO_STOCK}
    with httpx.Client(
        base_url=gateway_url, headers={"authorization": f"Bearer {token}"}, timeout=60
    ) as client:
        stock = client.get("/api/inventory/units/unit-centrum/stock")
        stock.raise_for_status()
        if not stock.json()["vaccines"]:
            for vaccine_id, name, batch_number, doses, days in DEMO_STOCK:
                client.post(
                    "/api/inventory/units/unit-centrum/deliveries",
                    json={
                        "vaccine_id": vaccine_id,
                        "vaccine_name": name,
                        "batch_number": batch_number,
                        "expires_on": (date.today() + timedelta(days=days)).isoformat(),
                        "doses": doses,
                    },
                ).raise_for_status()
            client.put(
                "/api/inventory/units/unit-centrum/low-stock-levels/vaccine-comirnaty",
                json={"level": 100},
            ).raise_for_status()
            client.put(
                "/api/inventory/units/unit-centrum/quick-list",
                json={
                    "vaccines": [
                        {"vaccine_id": v, "vaccine_name": names[v]} for v in DEMO_QUICK_LIST
                    ]
                },
            ).raise_for_status()
        batches = client.get("/api/inventory/units/unit-centrum/usable-batches")
        batches.raise_for_status()
        usable: list[dict[str, object]] = batches.json()["batches"]
        return usable


def load(gateway_url: str, keys: tokens.DevKeys) -> dict[str, str]:
    """Register the demo citizens (who can log in with BankID at the development identity
    provider), a few persons of the synthetic population register and one reserve-number
    patient. Returns identifier -> patient id."""
    headers = {"authorization": f"Bearer {tokens.demo_staff_token(keys, Role.NURSE)}"}
    bodies: list[dict[str, str]] = []
    for citizen in directory.citizens():
        given, _, family = citizen.name.partition(" ")
        bodies.append(
            {"identifier": citizen.personnummer, "given_name": given, "family_name": family}
        )
    # Names of register persons come from the register; protected ones need typed names.
    for person in SyntheticRegister().sample(5, seed=2026, protected=False):
        bodies.append({"identifier": person.identifier})
    for person in SyntheticRegister().sample(1, seed=2026, protected=True):
        bodies.append(
            {"identifier": person.identifier, "given_name": "Skyddad", "family_name": "Person"}
        )
    registered = {}
    with httpx.Client(base_url=gateway_url, headers=headers, timeout=30) as client:
        for i, body in enumerate(bodies):
            response = client.post("/api/identity/patients", json=body)
            response.raise_for_status()
            patient = response.json()
            registered[patient["identifier"]] = patient["patient_id"]
            if not patient["protected"] and patient["contact"]["mobile"] is None:
                # Demo mobile numbers, so confirmations show up at the SMS stand-in.
                client.put(
                    f"/api/identity/patients/{patient['patient_id']}/contact",
                    json={"mobile": f"+4670174{i:04d}"},
                ).raise_for_status()
        reserve = client.post(
            "/api/identity/patients/reserve", json={"given_name": "Okänd", "family_name": "Patient"}
        )
        reserve.raise_for_status()
        registered[reserve.json()["identifier"]] = reserve.json()["patient_id"]
    return registered
