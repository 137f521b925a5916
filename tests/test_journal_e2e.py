"""The journal over the real platform, every call through the gateway (JR-1..JR-9, IN-2,
IN-6, BK-10, AC-4, AC-5, ID-4..ID-7): the clinical path from booking to printed journal; who
may order, give and print; dose numbers, intervals and defaults; batches that count down by
themselves and refuse expired or empty stock; what other units and care providers see; a
rename; a new identifier."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.booking_support import DECLARATION, local, make_time_book
from tests.conftest import citizen_headers
from tests.journal_support import (
    COMIRNATY,
    OTHER_PROVIDER,
    SPIKEVAX,
    TODAY,
    VAXZEVRIA,
    Unit,
    balance,
    check_in,
    give,
    new_unit,
    order,
    ordered,
    patients,
    pdf_text,
    record,
)
from vaccinera_contracts import topics
from vaccinera_devstack.platform import Platform
from vaccinera_devstack.testing import eventually, read_topic

pytestmark = pytest.mark.infra

# --- the clinical path -------------------------------------------------------------------------


async def test_jr2_jr4_jr6_jr7_in2_clinical_path_from_booking_to_printed_journal(
    gw: httpx.AsyncClient, platform: Platform, journal_db: asyncpg.Connection
) -> None:
    unit = Unit(platform, new_unit())
    (patient_id,) = await patients(gw, platform, 1)
    person = (await gw.get(f"/api/identity/patients/{patient_id}", headers=unit.nurse)).json()
    # The citizen books dose 1 with the health declaration (BK-2) and arrives (BK-11).
    book = await make_time_book(gw, platform, unit=unit.unit_id)
    start = local(book.day, 8).isoformat()
    booked = await gw.post(
        "/api/booking/bookings",
        headers=citizen_headers(platform, person["identifier"]),
        json={
            "time_book_id": book.time_book_id,
            "visit_type_id": book.dose1,
            "start": start,
            "health_declaration": {
                **DECLARATION,
                "answers": {
                    **DECLARATION["answers"],
                    "allergy": {"yes": True, "comment": "Penicillin, utslag 2015"},
                },
            },
        },
    )
    assert booked.status_code == 201, booked.text
    booking_id = booked.json()["booking_id"]
    arrived = await gw.post(f"/api/booking/bookings/{booking_id}/arrival", headers=unit.nurse)
    assert arrived.status_code == 200, arrived.text
    batch = await check_in(gw, journal_db, unit, COMIRNATY, "Comirnaty", 10)

    # The doctor orders doses 1 and 2 together, as two orders (JR-2).
    r = await order(gw, unit.doctor, patient_id, [1, 2], patient_group="65 år och äldre")
    assert r.status_code == 201, r.text
    orders = r.json()["orders"]
    assert [(o["dose_number"], o["vaccine_name"], o["status"]) for o in orders] == [
        (1, "Comirnaty", "ordered"),
        (2, "Comirnaty", "ordered"),
    ]

    # The nurse gives dose 1 from the unit's batch, on the visit's declaration (JR-4, JR-6).
    async def declaration_arrived() -> bool:
        found = await journal_db.fetchval(
            "SELECT count(*) FROM declarations WHERE booking_id = $1", booking_id
        )
        return bool(found)

    await eventually(declaration_arrived, timeout=30)
    given = await give(
        gw, unit.nurse, orders[0]["order_id"], batch["batch_id"], booking_id=booking_id
    )
    assert given.status_code == 201, given.text
    dose = given.json()
    assert dose["dose_number"] == 1
    assert dose["batch_number"] == batch["batch_number"]
    assert dose["unit_id"] == unit.unit_id
    assert dose["vaccinator_hsa_id"]
    # Comirnaty's series: dose 2 at the earliest 21 days after dose 1 (its product information).
    assert dose["next_dose_from"] == (TODAY + timedelta(days=21)).isoformat()

    # The stock counts down by itself (IN-2).
    async def one_less() -> bool:
        return await balance(gw, unit, batch["batch_id"]) == 9

    await eventually(one_less, timeout=30)

    # The record shows the dose with its declaration; dose 2 still ordered.
    shown = await record(gw, unit.nurse, patient_id)
    assert shown["identifier"] == person["identifier"]
    (vaccination,) = shown["vaccinations"]
    assert vaccination["health_declaration"] is not None
    answers = {a["question"]: a for a in vaccination["health_declaration"]["answers"]}
    allergy = next(a for q, a in answers.items() if "allergisk" in q)
    assert (allergy["answer"], allergy["comment"]) == ("Ja", "Penicillin, utslag 2015")
    assert [o["status"] for o in shown["orders"]] == ["administered", "ordered"]

    # Printouts (JR-7): the history lists the dose; the journal adds batch and declaration.
    history = pdf_text(
        await gw.get(f"/api/journal/patients/{patient_id}/printouts/history", headers=unit.nurse)
    )
    journal = pdf_text(
        await gw.get(f"/api/journal/patients/{patient_id}/printouts/journal", headers=unit.doctor)
    )
    for text in (history, journal):
        assert "Comirnaty, dos 1" in text
        assert TODAY.isoformat() in text
        assert person["identifier"] in text
    assert batch["batch_number"] not in history
    assert batch["batch_number"] in journal
    assert "Penicillin, utslag 2015" in journal
    assert "Har du feber" in journal

    # Only nurses and doctors print (AC-4).
    for role in ("medical_secretary", "booking_only", "assistant_nurse"):
        r = await gw.get(
            f"/api/journal/patients/{patient_id}/printouts/journal", headers=getattr(unit, role)
        )
        assert r.status_code == 403, (role, r.text)

    # Every print is in the patient's access log (ID-7).
    async def prints_logged() -> bool:
        r = await gw.get(f"/api/identity/patients/{patient_id}/access-log", headers=unit.nurse)
        operations = [e["operation"] for e in r.json()["entries"]]
        return "journal.print_history" in operations and "journal.print_journal" in operations

    await eventually(prints_logged, timeout=30)


async def test_jr4_nurse_prescriber_orders_and_gives_in_one_step_nurse_may_not_order(
    gw: httpx.AsyncClient, platform: Platform, journal_db: asyncpg.Connection
) -> None:
    unit = Unit(platform, new_unit())
    (patient_id,) = await patients(gw, platform, 1)
    batch = await check_in(gw, journal_db, unit, SPIKEVAX, "Spikevax", 5)
    # A nurse administers but does not order (AC-3); an assistant nurse does neither.
    assert (await order(gw, unit.nurse, patient_id, [1], SPIKEVAX)).status_code == 403
    assert (await order(gw, unit.assistant_nurse, patient_id, [1], SPIKEVAX)).status_code == 403
    both = await gw.post(
        f"/api/journal/patients/{patient_id}/administrations",
        headers=unit.nurse,
        json={"vaccine_id": SPIKEVAX, "dose_number": 1, "batch_id": batch["batch_id"]},
    )
    assert both.status_code == 403
    both = await gw.post(
        f"/api/journal/patients/{patient_id}/administrations",
        headers=unit.nurse_prescriber,
        json={"vaccine_id": SPIKEVAX, "dose_number": 1, "batch_id": batch["batch_id"]},
    )
    assert both.status_code == 201, both.text
    given = both.json()
    assert given["vaccine_name"] == "Spikevax"
    assert [(o["dose_number"], o["status"]) for o in given["orders"]] == [(1, "administered")]
    # The assistant nurse reads the record (the matrix) but gives nothing.
    shown = await record(gw, unit.assistant_nurse, patient_id)
    assert [v["vaccine_name"] for v in shown["vaccinations"]] == ["Spikevax"]
    # The assistant nurse does not read health declarations (JR-6, AC-4: clinicians).
    assert shown["vaccinations"][0]["health_declaration"] is None
    order_id = await ordered(gw, unit, patient_id, dose=2)
    assert (await give(gw, unit.assistant_nurse, order_id, batch["batch_id"])).status_code == 403


# --- dose numbers, intervals and defaults -------------------------------------------------------


async def test_bk10_jr2_jr3_dose_2_too_early_defaults_to_dose_1_vaccine_and_switch_keeps_number(
    gw: httpx.AsyncClient, platform: Platform, journal_db: asyncpg.Connection
) -> None:
    unit = Unit(platform, new_unit())
    (patient_id,) = await patients(gw, platform, 1)
    vaxzevria = await check_in(gw, journal_db, unit, VAXZEVRIA, "Vaxzevria", 5)
    comirnaty = await check_in(gw, journal_db, unit, COMIRNATY, "Comirnaty", 5)
    dose1 = await order(gw, unit.doctor, patient_id, [1], VAXZEVRIA)
    assert dose1.status_code == 201, dose1.text
    given = await give(gw, unit.nurse, dose1.json()["orders"][0]["order_id"], vaxzevria["batch_id"])
    assert given.status_code == 201, given.text

    # Dose 2 without a vaccine follows dose 1's (JR-2, beyond).
    dose2 = await order(gw, unit.doctor, patient_id, [2], vaccine_id=None)
    assert dose2.status_code == 201, dose2.text
    (order2,) = dose2.json()["orders"]
    assert (order2["vaccine_id"], order2["dose_number"]) == (VAXZEVRIA, 2)
    # The record's next dose for the form says the same.
    assert (await record(gw, unit.doctor, patient_id))["next_dose"] == {
        "dose_number": 3,
        "default_vaccine_id": VAXZEVRIA,
    }

    # Given today, dose 2 is too early: 409 naming the first allowed day (BK-10).
    early = await give(gw, unit.nurse, order2["order_id"], vaxzevria["batch_id"])
    assert early.status_code == 409, early.text
    earliest = (TODAY + timedelta(days=28)).isoformat()
    assert early.json()["code"] == "dose_too_early"
    assert early.json()["earliest_date"] == earliest
    assert earliest in early.json()["message"]
    # Nothing half-written: the order is still open, the batch has its doses.
    assert (
        await journal_db.fetchval(
            "SELECT available FROM batches WHERE batch_id = $1", vaxzevria["batch_id"]
        )
        == 4
    )
    assert [o["status"] for o in (await record(gw, unit.doctor, patient_id))["orders"]] == [
        "administered",
        "ordered",
    ]

    # Switch to an mRNA vaccine for dose 2 (JR-3): void with a reason, order anew.
    blocked = await order(gw, unit.doctor, patient_id, [2], COMIRNATY)
    assert (blocked.status_code, blocked.json()["code"]) == (409, "dose_already_ordered")
    voided = await gw.post(
        f"/api/journal/orders/{order2['order_id']}/void",
        headers=unit.doctor,
        json={"reason": "Byte till mRNA-vaccin"},
    )
    assert voided.status_code == 200, voided.text
    assert voided.json()["orders"][0]["status"] == "voided"
    again = await gw.post(
        f"/api/journal/orders/{order2['order_id']}/void",
        headers=unit.doctor,
        json={"reason": "igen"},
    )
    assert again.status_code == 409
    switched = await order(
        gw, unit.doctor, patient_id, [2], COMIRNATY, replaces_order_id=order2["order_id"]
    )
    assert switched.status_code == 201, switched.text
    new = switched.json()["orders"][0]
    assert (new["dose_number"], new["vaccine_name"], new["replaces_order_id"]) == (
        2,
        "Comirnaty",
        order2["order_id"],
    )
    # A replacing order keeps the voided one's number: another number is refused.
    wrong = await order(
        gw, unit.doctor, patient_id, [3], COMIRNATY, replaces_order_id=order2["order_id"]
    )
    assert wrong.status_code == 422
    assert wrong.json()["details"][0]["field"] == "dose_numbers"

    # Twenty-nine days on, dose 2 is given (time passes in the journal's database).
    await journal_db.execute(
        "UPDATE administrations SET administered_at = administered_at - interval '29 days' "
        "WHERE patient_id = $1",
        patient_id,
    )
    late = await give(gw, unit.nurse, new["order_id"], comirnaty["batch_id"])
    assert late.status_code == 201, late.text
    assert late.json()["dose_number"] == 2


async def test_jr5_jr9_dose_3_after_two_doses_given_abroad(
    gw: httpx.AsyncClient, platform: Platform, journal_db: asyncpg.Connection
) -> None:
    unit = Unit(platform, new_unit())
    (patient_id,) = await patients(gw, platform, 1)
    batch = await check_in(gw, journal_db, unit, COMIRNATY, "Comirnaty", 5)
    for number, given_on in ((1, date(2021, 5, 3)), (2, date(2021, 6, 14))):
        r = await gw.post(
            f"/api/journal/patients/{patient_id}/historical-doses",
            headers=unit.nurse,
            json={
                "vaccine_id": COMIRNATY,
                "dose_number": number,
                "given_on": given_on.isoformat(),
                "country": "NO",
                "comment": "Given i Norge enligt vaccinationskort",
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["kind"] == "historical"
    twice = await gw.post(
        f"/api/journal/patients/{patient_id}/historical-doses",
        headers=unit.nurse,
        json={
            "vaccine_id": COMIRNATY,
            "dose_number": 2,
            "given_on": "2021-06-20",
            "comment": "igen",
        },
    )
    assert (twice.status_code, twice.json()["code"]) == (409, "dose_already_given")
    future = await gw.post(
        f"/api/journal/patients/{patient_id}/historical-doses",
        headers=unit.nurse,
        json={
            "vaccine_id": COMIRNATY,
            "dose_number": 4,
            "given_on": (TODAY + timedelta(days=2)).isoformat(),
            "comment": "framtid",
        },
    )
    assert future.status_code == 422
    assert future.json()["details"][0]["field"] == "given_on"
    # The form proposes dose 3 (JR-9), ordered and given here.
    assert (await record(gw, unit.doctor, patient_id))["next_dose"]["dose_number"] == 3
    order_id = await ordered(gw, unit, patient_id, dose=3)
    given = await give(gw, unit.nurse, order_id, batch["batch_id"])
    assert given.status_code == 201, given.text
    kinds = [
        (v["kind"], v["dose_number"])
        for v in (await record(gw, unit.nurse, patient_id))["vaccinations"]
    ]
    assert kinds == [("historical", 1), ("historical", 2), ("administered", 3)]
    # History is never an administration: the journal's events tell NVR's exporter apart.
    history = await read_topic(
        platform.infra.kafka_bootstrap,
        topics.JOURNAL,
        until=lambda rs: sum(1 for r in rs if patient_id.encode() in r.value) >= 4,
        timeout=30,
    )
    types = sorted(
        r.headers.get("event_type", "") for r in history if patient_id.encode() in r.value
    )
    assert types.count("journal.HistoricalDoseRecorded") == 2
    assert types.count("journal.DoseAdministered") == 1


# --- batches: expired, empty, and the race for the last dose -----------------------------------


async def test_in6_expired_and_empty_batches_are_refused_and_nothing_is_half_written(
    gw: httpx.AsyncClient, platform: Platform, journal_db: asyncpg.Connection
) -> None:
    unit = Unit(platform, new_unit())
    first, second, third = await patients(gw, platform, 3)
    batch = await check_in(gw, journal_db, unit, COMIRNATY, "Comirnaty", 1)
    assert (
        await give(gw, unit.nurse, await ordered(gw, unit, first), batch["batch_id"])
    ).status_code == 201
    empty = await give(gw, unit.nurse, await ordered(gw, unit, second), batch["batch_id"])
    assert (empty.status_code, empty.json()["code"]) == (409, "batch_empty")

    expiring = await check_in(gw, journal_db, unit, COMIRNATY, "Comirnaty", 5)
    await journal_db.execute(
        "UPDATE batches SET expires_on = $2 WHERE batch_id = $1",
        expiring["batch_id"],
        TODAY - timedelta(days=1),
    )
    order_id = await ordered(gw, unit, third)
    expired = await give(gw, unit.nurse, order_id, expiring["batch_id"])
    assert (expired.status_code, expired.json()["code"]) == (409, "batch_expired")
    assert (TODAY - timedelta(days=1)).isoformat() in expired.json()["message"]
    # Nothing was written: the order is open, the patient has no dose, no dose was taken.
    shown = await record(gw, unit.nurse, third)
    assert shown["vaccinations"] == []
    assert [o["status"] for o in shown["orders"]] == ["ordered"]
    assert (
        await journal_db.fetchval(
            "SELECT available FROM batches WHERE batch_id = $1", expiring["batch_id"]
        )
        == 5
    )
    # Another unit's batch is not this unit's stock.
    elsewhere = Unit(platform, new_unit())
    theirs = await check_in(gw, journal_db, elsewhere, COMIRNATY, "Comirnaty", 5)
    r = await give(gw, unit.nurse, order_id, theirs["batch_id"])
    assert r.status_code == 422
    assert r.json()["details"][0]["field"] == "batch_id"


async def test_in2_in6_200_nurses_race_for_150_doses_exactly_150_given_low_stock_once(
    gw: httpx.AsyncClient, platform: Platform, journal_db: asyncpg.Connection
) -> None:
    unit = Unit(platform, new_unit())
    people = await patients(gw, platform, 200)
    batch = await check_in(gw, journal_db, unit, COMIRNATY, "Comirnaty", 150)
    r = await gw.put(
        f"/api/inventory/units/{unit.unit_id}/low-stock-levels/{COMIRNATY}",
        headers=unit.stock_admin,
        json={"level": 20},
    )
    assert r.status_code == 200, r.text
    sem = asyncio.Semaphore(20)

    async def order_one(patient_id: str) -> str:
        async with sem:
            return await ordered(gw, unit, patient_id)

    order_ids = await asyncio.gather(*map(order_one, people))
    # Every nurse at once: 200 administrations for 150 doses.
    answers = await asyncio.gather(
        *(give(gw, unit.nurse, order_id, batch["batch_id"]) for order_id in order_ids)
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(201) == 150, statuses
    assert statuses.count(409) == 50, statuses
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"batch_empty"}
    assert (
        await journal_db.fetchval(
            "SELECT available FROM batches WHERE batch_id = $1", batch["batch_id"]
        )
        == 0
    )

    # The inventory follows: balance 0, never below, no discrepancy (IN-2).
    async def emptied() -> bool:
        return await balance(gw, unit, batch["batch_id"]) == 0

    await eventually(emptied, timeout=60)
    r = await gw.get(f"/api/inventory/units/{unit.unit_id}/discrepancies", headers=unit.stock_admin)
    assert r.status_code == 200 and r.json()["discrepancies"] == [], r.text
    # The unit's stock crossed its low-stock level once: one StockLow (IN-6).
    records = await read_topic(platform.infra.kafka_bootstrap, topics.INVENTORY, timeout=8)
    lows = [
        r
        for r in records
        if r.headers.get("event_type") == "inventory.StockLow" and unit.unit_id.encode() in r.value
    ]
    assert len(lows) == 1


# --- who sees what ---------------------------------------------------------------------------


async def test_ac5_jr8_id5_id6_other_units_and_care_providers(
    gw: httpx.AsyncClient, platform: Platform, journal_db: asyncpg.Connection
) -> None:
    unit_a = Unit(platform, new_unit())
    unit_b = Unit(platform, new_unit())  # the same care provider
    private = Unit(platform, new_unit(), OTHER_PROVIDER)
    (patient_id,) = await patients(gw, platform, 1)
    batch = await check_in(gw, journal_db, unit_a, COMIRNATY, "Comirnaty", 5)
    r = await give(gw, unit_a.nurse, await ordered(gw, unit_a, patient_id), batch["batch_id"])
    assert r.status_code == 201, r.text
    await ordered(gw, unit_a, patient_id, dose=2)

    # Unit B of the same care provider sees unit A's orders and doses (AC-5).
    seen_b = await record(gw, unit_b.nurse, patient_id)
    assert [v["unit_id"] for v in seen_b["vaccinations"]] == [unit_a.unit_id]
    assert len(seen_b["orders"]) == 2

    # Another care provider: only how many before consent (JR-8).
    seen_private = await record(gw, private.nurse, patient_id)
    assert (seen_private["vaccinations"], seen_private["orders"]) == ([], [])
    assert seen_private["other_providers_records"] == 3
    shared = (
        await gw.get(f"/api/journal/patients/{patient_id}/shared-record", headers=private.nurse)
    ).json()
    assert (shared["consent"], shared["vaccinations"], shared["not_shown"]) == (False, [], 3)

    # After the patient's consent for the private provider, the shared record shows them.
    consent = await gw.post(
        f"/api/identity/patients/{patient_id}/consents",
        headers=private.nurse,
        json={
            "care_provider_id": OTHER_PROVIDER,
            "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        },
    )
    assert consent.status_code == 201, consent.text

    async def shared_after_consent() -> bool:
        r = await gw.get(f"/api/journal/patients/{patient_id}/shared-record", headers=private.nurse)
        body = r.json()
        return bool(body["consent"]) and len(body["vaccinations"]) == 1

    await eventually(shared_after_consent, timeout=30)
    # Its own view still keeps other providers' entries apart.
    assert (await record(gw, private.nurse, patient_id))["vaccinations"] == []

    # The patient blocks unit A (ID-5): never shown outside it, not even counted.
    block = await gw.post(
        f"/api/identity/patients/{patient_id}/blocks",
        headers=unit_a.nurse,
        json={"scope": "unit", "target_id": unit_a.unit_id},
    )
    assert block.status_code == 201, block.text

    async def hidden() -> bool:
        body = (
            await gw.get(f"/api/journal/patients/{patient_id}/shared-record", headers=private.nurse)
        ).json()
        return body["vaccinations"] == [] and body["not_shown"] == 0

    await eventually(hidden, timeout=30)
    assert (await record(gw, unit_b.nurse, patient_id))["vaccinations"] == []
    assert len((await record(gw, unit_a.nurse, patient_id))["vaccinations"]) == 1
    # The patient sees every entry of their own.
    person = (await gw.get(f"/api/identity/patients/{patient_id}", headers=unit_a.nurse)).json()
    own = await record(gw, citizen_headers(platform, person["identifier"]), patient_id)
    assert len(own["vaccinations"]) == 1


# --- the catalogue and identifiers -----------------------------------------------------------------


async def test_jr1_rename_shows_on_old_vaccinations_and_on_batches(
    gw: httpx.AsyncClient, platform: Platform, journal_db: asyncpg.Connection
) -> None:
    unit = Unit(platform, new_unit())
    (patient_id,) = await patients(gw, platform, 1)
    vaccine_id = f"vaccine-az-{uuid.uuid4().hex[:6]}"
    added = await gw.post(
        "/api/journal/vaccines",
        headers=unit.stock_admin,
        json={
            "vaccine_id": vaccine_id,
            "name": "COVID-19 Vaccine AstraZeneca",
            "manufacturer": "AstraZeneca AB",
            "atc_code": "J07BN02",
            "doses_in_series": 2,
            "min_interval_days": 28,
        },
    )
    assert added.status_code == 201, added.text
    assert (await gw.post("/api/journal/vaccines", headers=unit.nurse, json={})).status_code == 403
    batch = await check_in(gw, journal_db, unit, vaccine_id, "COVID-19 Vaccine AstraZeneca", 5)
    r = await order(gw, unit.doctor, patient_id, [1], vaccine_id)
    assert r.status_code == 201, r.text
    given = await give(gw, unit.nurse, r.json()["orders"][0]["order_id"], batch["batch_id"])
    assert given.status_code == 201, given.text

    renamed = await gw.patch(
        f"/api/journal/vaccines/{vaccine_id}", headers=unit.stock_admin, json={"name": "Vaxzevria"}
    )
    assert renamed.status_code == 200, renamed.text
    shown = await record(gw, unit.nurse, patient_id)
    assert [v["vaccine_name"] for v in shown["vaccinations"]] == ["Vaxzevria"]
    assert [o["vaccine_name"] for o in shown["orders"]] == ["Vaxzevria"]

    async def batch_renamed() -> bool:
        r = await gw.get(f"/api/inventory/batches/{batch['batch_id']}", headers=unit.nurse)
        return bool(r.json()["vaccine_name"] == "Vaxzevria")

    await eventually(batch_renamed, timeout=30)
    catalogue = (await gw.get("/api/journal/vaccines", headers=unit.nurse)).json()["vaccines"]
    names = {v["vaccine_id"]: v["name"] for v in catalogue}
    assert names[vaccine_id] == "Vaxzevria"
    # The catalogue starts with the vaccines the staff named (JR-1).
    assert {"Comirnaty", "Spikevax", "Vaxzevria"} <= set(names.values())


async def test_id4_the_journal_shows_the_new_identifier(
    gw: httpx.AsyncClient, platform: Platform, journal_db: asyncpg.Connection
) -> None:
    from vaccinera_identity.population import SyntheticRegister

    unit = Unit(platform, new_unit())
    r = await gw.post(
        "/api/identity/patients/reserve",
        headers=unit.nurse,
        json={"given_name": "Okänd", "family_name": "Patient"},
    )
    assert r.status_code == 201, r.text
    patient_id, reserve = r.json()["patient_id"], r.json()["identifier"]
    batch = await check_in(gw, journal_db, unit, COMIRNATY, "Comirnaty", 2)
    assert (
        await give(gw, unit.nurse, await ordered(gw, unit, patient_id), batch["batch_id"])
    ).status_code == 201
    assert (await record(gw, unit.nurse, patient_id))["identifier"] == reserve
    (person,) = SyntheticRegister().sample(1, seed=random.randrange(10**9), protected=False)
    changed = await gw.put(
        f"/api/identity/patients/{patient_id}/identifier",
        headers=unit.nurse,
        json={"identifier": person.identifier},
    )
    assert changed.status_code == 200, changed.text

    async def follows() -> bool:
        return bool((await record(gw, unit.nurse, patient_id))["identifier"] == person.identifier)

    await eventually(follows, timeout=30)


async def test_unknown_patient_order_and_vaccine_answer_4xx_naming_them(
    gw: httpx.AsyncClient, platform: Platform
) -> None:
    unit = Unit(platform, new_unit())
    r = await order(gw, unit.doctor, f"p-{uuid.uuid4()}", [1])
    assert (r.status_code, r.json()["code"]) == (404, "patient_not_found")
    (patient_id,) = await patients(gw, platform, 1)
    r = await order(gw, unit.doctor, patient_id, [1], "vaccine-finns-inte")
    assert r.status_code == 422
    assert r.json()["details"][0]["field"] == "vaccine_id"
    r = await order(gw, unit.doctor, patient_id, [1], vaccine_id=None)
    assert (r.status_code, r.json()["details"][0]["field"]) == (422, "vaccine_id")
    r = await give(gw, unit.nurse, f"o-{uuid.uuid4()}", "b-1")
    assert (r.status_code, r.json()["code"]) == (404, "order_not_found")


async def test_jr4_in2_a_dose_signed_with_the_wrong_batch_is_corrected_and_the_stock_follows(
    gw: httpx.AsyncClient, platform: Platform, journal_db: asyncpg.Connection
) -> None:
    unit = Unit(platform, new_unit())
    (patient_id,) = await patients(gw, platform, 1)
    signed = await check_in(gw, journal_db, unit, COMIRNATY, "Comirnaty", 5)
    actual = await check_in(gw, journal_db, unit, COMIRNATY, "Comirnaty", 5)
    r = await give(gw, unit.nurse, await ordered(gw, unit, patient_id), signed["batch_id"])
    assert r.status_code == 201, r.text
    administration_id = r.json()["id"]

    async def stock_is(batch: dict[str, Any], doses: int) -> None:
        async def reached() -> bool:
            return await balance(gw, unit, batch["batch_id"]) == doses

        await eventually(reached, timeout=30)

    await stock_is(signed, 4)
    path = f"/api/journal/administrations/{administration_id}/corrections"
    # Only at the unit that gave it, to another batch or dose number, with the reason.
    elsewhere = Unit(platform, new_unit())
    body = {"batch_id": actual["batch_id"], "reason": "Fel batch signerad"}
    assert (await gw.post(path, headers=elsewhere.nurse, json=body)).status_code == 403
    assert (await gw.post(path, headers=unit.medical_secretary, json=body)).status_code == 403
    same = await gw.post(
        path, headers=unit.nurse, json={"batch_id": signed["batch_id"], "reason": "x"}
    )
    assert same.status_code == 422
    assert (await gw.post(path, headers=unit.nurse, json={"reason": "x"})).status_code == 422

    corrected = await gw.post(path, headers=unit.nurse, json=body)
    assert corrected.status_code == 200, corrected.text
    dose = corrected.json()
    assert (dose["batch_number"], dose["revision"]) == (actual["batch_number"], 2)
    (shown,) = (await record(gw, unit.nurse, patient_id))["vaccinations"]
    assert (shown["batch_number"], shown["correction_reason"]) == (
        actual["batch_number"],
        "Fel batch signerad",
    )
    # The dose is back in the batch first signed and out of the one it came from (IN-2).
    assert (
        await journal_db.fetchval(
            "SELECT available FROM batches WHERE batch_id = $1", signed["batch_id"]
        )
        == 5
    )
    assert (
        await journal_db.fetchval(
            "SELECT available FROM batches WHERE batch_id = $1", actual["batch_id"]
        )
        == 4
    )
    await stock_is(signed, 5)
    await stock_is(actual, 4)
    # Dose number corrections keep to one dose per number.
    r = await gw.post(path, headers=unit.nurse, json={"dose_number": 2, "reason": "Dos 2"})
    assert r.status_code == 200, r.text
    assert r.json()["dose_number"] == 2
