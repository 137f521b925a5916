"""Inventory over the real platform (IN-1..IN-6, JR-1, AC-5), every read and write through the
gateway: deliveries checked in; the journal's DoseAdministered (published here by hand, as the
journal will) lowers the batch once per administration whatever Kafka redelivers, never below
zero (an administration on an empty batch becomes a discrepancy); discards and corrections;
expired batches not offered; StockLow once per crossing; the quick list's order; the regional
overview per unit, care provider and region; renames; staff kept to their unit; bad input on
every route answered 4xx naming the field."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import update

from vaccinera_contracts import topics
from vaccinera_contracts.envelope import DomainEvent, EventEnvelope, new_envelope
from vaccinera_contracts.events import DoseAdministered, VaccineRenamed
from vaccinera_contracts.roles import Role
from vaccinera_devstack import tokens
from vaccinera_devstack.platform import Platform
from vaccinera_devstack.testing import eventually, read_topic
from vaccinera_inventory.domain import local_day
from vaccinera_inventory.tables import batches
from vaccinera_kit.database import Database

pytestmark = pytest.mark.infra

PROVIDER = "provider-region"
TODAY = local_day(datetime.now(UTC))


# --- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
async def producer(platform: Platform) -> AsyncIterator[AIOKafkaProducer]:
    kafka = AIOKafkaProducer(
        bootstrap_servers=platform.infra.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await kafka.start()
    yield kafka
    await kafka.stop()


@pytest.fixture(scope="module")
async def gw(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=20) as client:
        yield client


@pytest.fixture(scope="module")
async def db(platform: Platform) -> AsyncIterator[Database]:
    """The inventory's own database: only to let time pass for a batch (its expiry)."""
    database = Database(platform.infra.database_url("inventory"))
    yield database
    await database.dispose()


def unit() -> str:
    return f"unit-inv-{uuid.uuid4().hex[:8]}"


def staff(platform: Platform, role: Role, unit_id: str, provider: str = PROVIDER) -> dict[str, str]:
    token = tokens.staff_token(platform.keys, role, unit_id=unit_id, care_provider_id=provider)
    return {"authorization": f"Bearer {token}"}


def vaccine(name: str = "Comirnaty") -> dict[str, str]:
    return {"vaccine_id": f"v-{uuid.uuid4().hex[:8]}", "vaccine_name": name}


async def check_in(
    gw: httpx.AsyncClient,
    headers: dict[str, str],
    unit_id: str,
    v: dict[str, str],
    doses: int,
    *,
    number: str | None = None,
    expires_on: date | None = None,
) -> dict[str, Any]:
    r = await gw.post(
        f"/api/inventory/units/{unit_id}/deliveries",
        headers=headers,
        json={
            **v,
            "batch_number": number or f"FA{uuid.uuid4().hex[:6]}",
            "expires_on": (expires_on or TODAY + timedelta(days=60)).isoformat(),
            "doses": doses,
        },
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def administered(
    batch: dict[str, Any], patient_id: str | None = None, administration_id: str | None = None
) -> DoseAdministered:
    return DoseAdministered(
        patient_id=patient_id or f"p-{uuid.uuid4()}",
        administration_id=administration_id or f"a-{uuid.uuid4()}",
        vaccine_id=batch["vaccine_id"],
        vaccine_name=batch["vaccine_name"],
        dose_number=1,
        batch_id=batch["batch_id"],
        batch_number=batch["batch_number"],
        unit_id=batch["unit_id"],
        care_provider_id=batch["care_provider_id"],
        administered_at=datetime.now(UTC),
        vaccinator_hsa_id="SE2321000000-nurse",
    )


def envelope_bytes(event: DomainEvent) -> tuple[EventEnvelope, bytes]:
    envelope = new_envelope(event, producer="journal")
    return envelope, envelope.model_dump_json().encode()


async def send(producer: AIOKafkaProducer, event: DomainEvent, body: bytes, event_id: str) -> Any:
    """As the journal's outbox relay publishes: keyed by aggregate, with id and type headers."""
    return await producer.send(
        event.topic,
        body,
        key=event.aggregate_key().encode(),
        headers=[("event_id", event_id.encode()), ("event_type", event.event_type.encode())],
    )


async def publish(producer: AIOKafkaProducer, *events: DomainEvent) -> list[bytes]:
    sent, bodies = [], []
    for event in events:
        envelope, body = envelope_bytes(event)
        sent.append(await send(producer, event, body, str(envelope.event_id)))
        bodies.append(body)
    await asyncio.gather(*sent)
    return bodies


async def stock_of(
    gw: httpx.AsyncClient, headers: dict[str, str], unit_id: str
) -> dict[str, dict[str, Any]]:
    r = await gw.get(f"/api/inventory/units/{unit_id}/stock", headers=headers)
    assert r.status_code == 200, r.text
    return {v["vaccine_id"]: v for v in r.json()["vaccines"]}


async def batch_of(gw: httpx.AsyncClient, headers: dict[str, str], batch_id: str) -> Any:
    r = await gw.get(f"/api/inventory/batches/{batch_id}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def wait_balance(
    gw: httpx.AsyncClient, headers: dict[str, str], batch_id: str, balance: int
) -> dict[str, Any]:
    seen: list[int] = []

    async def reached() -> bool:
        found = await batch_of(gw, headers, batch_id)
        seen.append(found["balance"])
        return bool(found["balance"] == balance)

    await eventually(reached, timeout=60, interval=0.2)
    assert all(b >= 0 for b in seen)
    result: dict[str, Any] = await batch_of(gw, headers, batch_id)
    return result


async def inventory_events(platform: Platform, key: str, count: int, wait: float = 30) -> list[Any]:
    """The inventory's events with this Kafka key, once ``count`` have arrived (or ``wait``
    seconds have passed), as envelopes."""

    def mine(records: list[Any]) -> list[Any]:
        return [r for r in records if r.key == key.encode()]

    records = await read_topic(
        platform.infra.kafka_bootstrap,
        topics.INVENTORY,
        until=lambda rs: len(mine(rs)) >= count,
        timeout=wait,
    )
    return [json.loads(r.value) for r in mine(records)]


# --- IN-1, IN-2: check in, administrations lower the stock once each --------------------------


async def test_in1_in2_each_administration_lowers_the_batch_once_redelivery_changes_nothing(
    platform: Platform, gw: httpx.AsyncClient, producer: AIOKafkaProducer
) -> None:
    u, v = unit(), vaccine()
    admin, nurse = staff(platform, Role.STOCK_ADMIN, u), staff(platform, Role.NURSE, u)
    batch = await check_in(gw, admin, u, v, 10, number="fe 3592")
    assert (batch["balance"], batch["batch_number"], batch["usable"]) == (10, "FE 3592", True)
    (checked_in,) = await inventory_events(platform, batch["batch_id"], 1)
    assert checked_in["type"] == "inventory.BatchCheckedIn"
    assert (checked_in["data"]["doses"], checked_in["data"]["unit_id"]) == (10, u)

    patient = f"p-{uuid.uuid4()}"  # one patient: one partition, handled in this order
    doses = [administered(batch, patient) for _ in range(3)]
    bodies = await publish(producer, *doses)
    await wait_balance(gw, nurse, batch["batch_id"], 7)

    # Kafka redelivers the same records (same event ids), and the journal republishes the
    # first administration under a new event id: neither is subtracted again. A fourth
    # administration behind them on the same partition shows they were all handled.
    envelopes = [EventEnvelope.model_validate_json(b) for b in bodies]
    await asyncio.gather(
        *[
            await send(producer, event, body, str(env.event_id))
            for event, body, env in zip(doses, bodies, envelopes, strict=True)
        ]
    )
    await publish(producer, doses[0])
    await publish(producer, administered(batch, patient))
    found = await wait_balance(gw, nurse, batch["batch_id"], 6)
    changes = [m["change"] for m in found["movements"]]
    assert changes == ["administered"] * 4 + ["checked_in"]
    assert {m["administration_id"] for m in found["movements"][:4]} >= {
        d.administration_id for d in doses
    }

    events = await inventory_events(platform, batch["batch_id"], 5)
    assert [e["data"]["balance"] for e in events] == [10, 9, 8, 7, 6]

    # The unit's staff see it; the clinicians may pick it.
    stock = await stock_of(gw, nurse, u)
    assert stock[v["vaccine_id"]]["usable_doses"] == 6
    r = await gw.get(f"/api/inventory/units/{u}/usable-batches", headers=nurse)
    assert [b["batch_id"] for b in r.json()["batches"]] == [batch["batch_id"]]


async def test_in2_200_administrations_on_150_doses_end_at_zero_with_50_discrepancies(
    platform: Platform, gw: httpx.AsyncClient, producer: AIOKafkaProducer
) -> None:
    u, v = unit(), vaccine()
    admin = staff(platform, Role.STOCK_ADMIN, u)
    batch = await check_in(gw, admin, u, v, 150)
    doses = [administered(batch) for _ in range(200)]  # 200 patients: every partition
    flow = asyncio.create_task(publish(producer, *doses))
    lowest = 150

    async def drained() -> bool:
        nonlocal lowest
        found = await batch_of(gw, admin, batch["batch_id"])
        lowest = min(lowest, found["balance"])
        r = await gw.get(f"/api/inventory/units/{u}/discrepancies", headers=admin)
        return bool(found["balance"] == 0 and len(r.json()["discrepancies"]) == 50)

    await eventually(drained, timeout=90, interval=0.3)
    await flow
    assert lowest >= 0
    r = await gw.get(f"/api/inventory/units/{u}/discrepancies", headers=admin)
    listed = r.json()
    assert listed["open"] == 50
    assert {d["kind"] for d in listed["discrepancies"]} == {"empty"}
    assert not any(d["subtracted"] for d in listed["discrepancies"])
    given = {d.administration_id for d in doses}
    assert {d["administration_id"] for d in listed["discrepancies"]} <= given
    stock = await stock_of(gw, admin, u)
    assert v["vaccine_id"] not in stock  # nothing left, no level set: not listed

    # IN-3: the stock administrator counts, corrects with a reason; that settles them.
    r = await gw.post(
        f"/api/inventory/batches/{batch['batch_id']}/corrections",
        headers=admin,
        json={"counted": 0, "reason": "Inventering: 50 doser från annan flaska"},
    )
    assert r.status_code == 200, r.text
    r = await gw.get(f"/api/inventory/units/{u}/discrepancies", headers=admin)
    assert r.json()["open"] == 0
    assert {d["resolved_by"] for d in r.json()["discrepancies"]} == {"SE2321000000-stock_admin"}


# --- IN-3: discards and corrections ---------------------------------------------------------------


async def test_in3_discard_and_correct_with_reason_and_who(
    platform: Platform, gw: httpx.AsyncClient
) -> None:
    u, v = unit(), vaccine()
    admin = staff(platform, Role.STOCK_ADMIN, u)
    batch = await check_in(gw, admin, u, v, 30)
    key = {"Idempotency-Key": f"discard-{uuid.uuid4()}"}
    for _ in range(2):  # a retry with the same key is answered as the first, discarded once
        r = await gw.post(
            f"/api/inventory/batches/{batch['batch_id']}/discards",
            headers={**admin, **key},
            json={"doses": 6, "reason": "Bruten kylkedja"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["balance"] == 24
    r = await gw.post(
        f"/api/inventory/batches/{batch['batch_id']}/corrections",
        headers=admin,
        json={"counted": 25, "reason": "Inventering"},
    )
    assert r.json()["balance"] == 25
    found = await batch_of(gw, admin, batch["batch_id"])
    assert [(m["change"], m["delta"], m["reason"], m["by_hsa_id"]) for m in found["movements"]] == [
        ("corrected", 1, "Inventering", "SE2321000000-stock_admin"),
        ("discarded", -6, "Bruten kylkedja", "SE2321000000-stock_admin"),
        ("checked_in", 30, None, "SE2321000000-stock_admin"),
    ]
    events = await inventory_events(platform, batch["batch_id"], 3)
    assert [(e["type"], e["data"].get("change")) for e in events] == [
        ("inventory.BatchCheckedIn", None),
        ("inventory.StockChanged", "discarded"),
        ("inventory.StockChanged", "corrected"),
    ]
    # More than the balance cannot be discarded.
    r = await gw.post(
        f"/api/inventory/batches/{batch['batch_id']}/discards",
        headers=admin,
        json={"doses": 26, "reason": "Tappad"},
    )
    assert r.status_code == 422
    assert r.json()["details"][0]["field"] == "doses"


# --- IN-6: expiry and low stock -------------------------------------------------------------------


async def test_in6_an_expired_batch_is_refused_and_not_offered(
    platform: Platform, gw: httpx.AsyncClient, db: Database
) -> None:
    u, v = unit(), vaccine()
    admin, nurse = staff(platform, Role.STOCK_ADMIN, u), staff(platform, Role.NURSE, u)
    r = await gw.post(
        f"/api/inventory/units/{u}/deliveries",
        headers=admin,
        json={
            **v,
            "batch_number": "OLD1",
            "expires_on": (TODAY - timedelta(days=1)).isoformat(),
            "doses": 10,
        },
    )
    assert r.status_code == 422
    assert r.json()["details"][0] == {
        "field": "expires_on",
        "rule": "expired",
        "message": "This batch has expired: it cannot be used.",
    }
    fresh = await check_in(gw, admin, u, v, 10, expires_on=TODAY + timedelta(days=20))
    ageing = await check_in(gw, admin, u, v, 8, expires_on=TODAY + timedelta(days=2))
    r = await gw.get(
        f"/api/inventory/units/{u}/usable-batches",
        params={"vaccine_id": v["vaccine_id"]},
        headers=nurse,
    )
    assert [b["batch_id"] for b in r.json()["batches"]] == [ageing["batch_id"], fresh["batch_id"]]

    # Days pass: the second batch's expiry day is behind us.
    async with db.engine.begin() as conn:
        await conn.execute(
            update(batches)
            .where(batches.c.batch_id == ageing["batch_id"])
            .values(expires_on=TODAY - timedelta(days=1))
        )
    r = await gw.get(
        f"/api/inventory/units/{u}/usable-batches",
        params={"vaccine_id": v["vaccine_id"]},
        headers=nurse,
    )
    assert [b["batch_id"] for b in r.json()["batches"]] == [fresh["batch_id"]]
    stock = (await stock_of(gw, nurse, u))[v["vaccine_id"]]
    assert (stock["usable_doses"], stock["expired_doses"]) == (10, 8)
    assert [b["expired"] for b in stock["batches"]] == [True, False]
    assert not (await batch_of(gw, nurse, ageing["batch_id"]))["usable"]
    # Its doses are written off by a discard.
    r = await gw.post(
        f"/api/inventory/batches/{ageing['batch_id']}/discards",
        headers=admin,
        json={"doses": 8, "reason": "Utgånget"},
    )
    assert r.status_code == 200 and r.json()["balance"] == 0


async def test_in6_low_stock_is_published_once_per_crossing_and_shown_to_staff(
    platform: Platform, gw: httpx.AsyncClient, producer: AIOKafkaProducer
) -> None:
    u, v = unit(), vaccine()
    admin, nurse = staff(platform, Role.STOCK_ADMIN, u), staff(platform, Role.NURSE, u)
    first = await check_in(gw, admin, u, v, 12)
    r = await gw.put(
        f"/api/inventory/units/{u}/low-stock-levels/{v['vaccine_id']}",
        headers=admin,
        json={"level": 10},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"unit_id": u, "vaccine_id": v["vaccine_id"], "level": 10, "low": False}
    assert (await stock_of(gw, nurse, u))[v["vaccine_id"]]["low_stock"] is False

    patient = f"p-{uuid.uuid4()}"
    await publish(producer, *(administered(first, patient) for _ in range(5)))  # 12 → 7
    await wait_balance(gw, nurse, first["batch_id"], 7)
    r = await gw.get(f"/api/inventory/units/{u}/stock", headers=nurse)
    (warning,) = r.json()["warnings"]
    assert (warning["vaccine_id"], warning["usable_doses"], warning["level"]) == (
        v["vaccine_id"],
        7,
        10,
    )
    assert "Lågt saldo" in warning["message"]

    # Above the level again, then down through it once more: a second StockLow.
    second = await check_in(gw, admin, u, v, 10)  # 17
    await publish(producer, *(administered(second, patient) for _ in range(8)))  # 17 → 9
    await wait_balance(gw, nurse, second["batch_id"], 2)
    await publish(producer, *(administered(first, patient) for _ in range(2)))  # 9 → 7
    await wait_balance(gw, nurse, first["batch_id"], 5)

    key = f"{u}:{v['vaccine_id']}"
    # Waited for a third that never comes: one event per crossing, each at the level.
    lows = await inventory_events(platform, key, 3, wait=10)
    assert [(e["type"], e["data"]["usable_doses"], e["data"]["level"]) for e in lows] == [
        ("inventory.StockLow", 10, 10),
        ("inventory.StockLow", 10, 10),
    ]


# --- IN-4: the quick list ---------------------------------------------------------------------------


async def test_in4_quick_list_keeps_the_order_staff_chose_first_is_default(
    platform: Platform, gw: httpx.AsyncClient
) -> None:
    u = unit()
    admin, doctor = staff(platform, Role.STOCK_ADMIN, u), staff(platform, Role.DOCTOR, u)
    az, mrna, flu = vaccine("Vaxzevria"), vaccine("Comirnaty"), vaccine("Influvac Tetra")
    r = await gw.get(f"/api/inventory/units/{u}/quick-list", headers=doctor)
    assert r.json() == {"unit_id": u, "default_vaccine_id": None, "vaccines": []}
    for order in ([mrna, az, flu], [az, flu, mrna]):
        r = await gw.put(
            f"/api/inventory/units/{u}/quick-list", headers=admin, json={"vaccines": order}
        )
        assert r.status_code == 200, r.text
        r = await gw.get(f"/api/inventory/units/{u}/quick-list", headers=doctor)
        body = r.json()
        assert [x["vaccine_id"] for x in body["vaccines"]] == [x["vaccine_id"] for x in order]
        assert [x["position"] for x in body["vaccines"]] == [1, 2, 3]
        assert body["default_vaccine_id"] == order[0]["vaccine_id"]
    r = await gw.put(
        f"/api/inventory/units/{u}/quick-list", headers=admin, json={"vaccines": [az, az]}
    )
    assert r.status_code == 422
    assert r.json()["details"][0]["field"] == "vaccines.1.vaccine_id"


# --- IN-5: the regional overview ---------------------------------------------------------------------


async def test_in5_overview_per_unit_care_provider_and_region(
    platform: Platform, gw: httpx.AsyncClient, producer: AIOKafkaProducer
) -> None:
    v = vaccine("Spikevax")  # only this test's: its rows are exactly the units below
    a1, a2, b1 = unit(), unit(), unit()
    other = f"provider-privat-{uuid.uuid4().hex[:6]}"
    admins = {
        a1: staff(platform, Role.STOCK_ADMIN, a1),
        a2: staff(platform, Role.STOCK_ADMIN, a2),
        b1: staff(platform, Role.STOCK_ADMIN, b1, other),
    }
    batch_a1 = await check_in(gw, admins[a1], a1, v, 100)
    batch_a2 = await check_in(gw, admins[a2], a2, v, 50)
    batch_b1 = await check_in(gw, admins[b1], b1, v, 40)
    await publish(
        producer,
        *(administered(batch_a1) for _ in range(10)),
        *(administered(batch_a2) for _ in range(5)),
        *(administered(batch_b1) for _ in range(4)),
    )
    r = await gw.post(
        f"/api/inventory/batches/{batch_b1['batch_id']}/discards",
        headers=admins[b1],
        json={"doses": 6, "reason": "Tappad flaska"},
    )
    assert r.status_code == 200
    await wait_balance(gw, admins[a1], batch_a1["batch_id"], 90)
    await wait_balance(gw, admins[a2], batch_a2["batch_id"], 45)
    await wait_balance(gw, admins[b1], batch_b1["batch_id"], 30)

    async def rows(by: str) -> list[dict[str, Any]]:
        r = await gw.get("/api/inventory/overview", params={"by": by}, headers=admins[a1])
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["level"] == by and body["from"] < body["to"]
        return [x for x in body["rows"] if x["vaccine_id"] == v["vaccine_id"]]

    def figures(row: dict[str, Any]) -> tuple[int, ...]:
        keys = ("usable_doses", "expired_doses", "delivered", "administered", "discarded")
        return tuple(row[k] for k in keys)

    per_unit = {x["unit_id"]: (x["care_provider_id"], figures(x)) for x in await rows("unit")}
    assert per_unit == {
        a1: (PROVIDER, (90, 0, 100, 10, 0)),
        a2: (PROVIDER, (45, 0, 50, 5, 0)),
        b1: (other, (30, 0, 40, 4, 6)),
    }
    per_provider = {x["care_provider_id"]: figures(x) for x in await rows("care_provider")}
    assert per_provider == {PROVIDER: (135, 0, 150, 15, 0), other: (30, 0, 40, 4, 6)}
    (region,) = await rows("region")
    assert figures(region) == (165, 0, 190, 19, 6)
    assert region["vaccine_name"] == "Spikevax"
    # A stock administrator of any unit sees the region; the unit's clinicians do not.
    r = await gw.get("/api/inventory/overview", headers=staff(platform, Role.NURSE, a1))
    assert r.status_code == 403


# --- JR-1: renamed vaccines ---------------------------------------------------------------------------


async def test_jr1_a_renamed_vaccine_shows_its_new_name_on_batches(
    platform: Platform, gw: httpx.AsyncClient, producer: AIOKafkaProducer
) -> None:
    u, v = unit(), vaccine("COVID-19 Vaccine AstraZeneca")
    admin = staff(platform, Role.STOCK_ADMIN, u)
    batch = await check_in(gw, admin, u, v, 10)
    await publish(
        producer,
        VaccineRenamed(
            vaccine_id=v["vaccine_id"],
            name="Vaxzevria",
            previous_name=v["vaccine_name"],
            renamed_at=datetime.now(UTC),
        ),
    )

    async def renamed() -> bool:
        found = await batch_of(gw, admin, batch["batch_id"])
        return bool(found["vaccine_name"] == "Vaxzevria")

    await eventually(renamed, timeout=30)
    # A later delivery under the old name keeps the catalogue's name.
    again = await check_in(gw, admin, u, v, 5)
    assert again["vaccine_name"] == "Vaxzevria"


# --- AC-5: staff see and change their own unit's stock -------------------------------------------------


async def test_ac5_staff_see_and_change_only_their_units_stock(
    platform: Platform, gw: httpx.AsyncClient
) -> None:
    u, elsewhere, v = unit(), unit(), vaccine()
    batch = await check_in(gw, staff(platform, Role.STOCK_ADMIN, u), u, v, 10)
    other_admin = staff(platform, Role.STOCK_ADMIN, elsewhere)
    other_nurse = staff(platform, Role.NURSE, elsewhere)
    for method, path, headers, body in (
        ("GET", f"/api/inventory/units/{u}/stock", other_nurse, None),
        ("GET", f"/api/inventory/units/{u}/usable-batches", other_nurse, None),
        ("GET", f"/api/inventory/units/{u}/quick-list", other_nurse, None),
        ("GET", f"/api/inventory/batches/{batch['batch_id']}", other_nurse, None),
        ("GET", f"/api/inventory/units/{u}/discrepancies", other_admin, None),
        (
            "POST",
            f"/api/inventory/units/{u}/deliveries",
            other_admin,
            {**v, "batch_number": "X1", "expires_on": "2099-01-01", "doses": 1},
        ),
        (
            "POST",
            f"/api/inventory/batches/{batch['batch_id']}/discards",
            other_admin,
            {"doses": 1, "reason": "x"},
        ),
        (
            "POST",
            f"/api/inventory/batches/{batch['batch_id']}/corrections",
            other_admin,
            {"counted": 1, "reason": "x"},
        ),
        ("PUT", f"/api/inventory/units/{u}/quick-list", other_admin, {"vaccines": []}),
        (
            "PUT",
            f"/api/inventory/units/{u}/low-stock-levels/{v['vaccine_id']}",
            other_admin,
            {"level": 1},
        ),
    ):
        r = await gw.request(method, path, headers=headers, json=body)
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["code"] == "other_unit"
    # Clinicians at the unit may not change the stock: that is its stock administrator's.
    nurse = staff(platform, Role.NURSE, u)
    r = await gw.post(
        f"/api/inventory/batches/{batch['batch_id']}/discards",
        headers=nurse,
        json={"doses": 1, "reason": "x"},
    )
    assert r.status_code == 403
    assert (await batch_of(gw, nurse, batch["batch_id"]))["balance"] == 10


# --- bad input: a clear 4xx naming the field, on every route -------------------------------------------


async def test_in_bad_input_on_every_route_names_the_field(
    platform: Platform, gw: httpx.AsyncClient
) -> None:
    u, v = unit(), vaccine()
    admin = staff(platform, Role.STOCK_ADMIN, u)
    batch = await check_in(gw, admin, u, v, 10)
    delivery = {**v, "batch_number": "AB12", "expires_on": "2099-01-01", "doses": 10}
    b = f"/api/inventory/batches/{batch['batch_id']}"
    cases: list[tuple[str, str, Any, dict[str, Any] | None, int, str]] = [
        (
            "POST",
            f"/api/inventory/units/{u}/deliveries",
            {**delivery, "doses": 0},
            None,
            422,
            "doses",
        ),
        (
            "POST",
            f"/api/inventory/units/{u}/deliveries",
            {**delivery, "expires_on": "snart"},
            None,
            422,
            "expires_on",
        ),
        (
            "POST",
            f"/api/inventory/units/{u}/deliveries",
            {**delivery, "batch_number": "!!"},
            None,
            422,
            "batch_number",
        ),
        (
            "POST",
            f"/api/inventory/units/{u}/deliveries",
            {**delivery, "vaccine_id": "a b"},
            None,
            422,
            "vaccine_id",
        ),
        (
            "POST",
            f"/api/inventory/units/{u}/deliveries",
            {k: x for k, x in delivery.items() if k != "vaccine_name"},
            None,
            422,
            "vaccine_name",
        ),
        (
            "POST",
            f"/api/inventory/units/{u}/deliveries",
            {**delivery, "extra": 1},
            None,
            422,
            "extra",
        ),
        ("POST", f"{b}/discards", {"doses": 11, "reason": "Tappad"}, None, 422, "doses"),
        ("POST", f"{b}/discards", {"doses": 1, "reason": ""}, None, 422, "reason"),
        (
            "POST",
            f"{b}/corrections",
            {"counted": -1, "reason": "Inventering"},
            None,
            422,
            "counted",
        ),
        (
            "POST",
            "/api/inventory/batches/no-such-batch/corrections",
            {"counted": 1, "reason": "x"},
            None,
            404,
            "",
        ),
        ("GET", "/api/inventory/batches/no-such-batch", None, None, 404, ""),
        ("GET", "/api/inventory/batches/a%20b", None, None, 422, "batch_id"),
        (
            "PUT",
            f"/api/inventory/units/{u}/low-stock-levels/{v['vaccine_id']}",
            {"level": -1},
            None,
            422,
            "level",
        ),
        (
            "PUT",
            f"/api/inventory/units/{u}/low-stock-levels/v-unknown",
            {"level": 1},
            None,
            422,
            "vaccine_id",
        ),
        (
            "PUT",
            f"/api/inventory/units/{u}/quick-list",
            {"vaccines": [{"vaccine_id": "x"}]},
            None,
            422,
            "vaccine_name",
        ),
        (
            "GET",
            f"/api/inventory/units/{u}/usable-batches",
            None,
            {"vaccine_id": "a b"},
            422,
            "vaccine_id",
        ),
        ("GET", f"/api/inventory/units/{u}/discrepancies", None, {"limit": 0}, 422, "limit"),
        ("GET", "/api/inventory/overview", None, {"by": "county"}, 422, "by"),
        ("GET", "/api/inventory/overview", None, {"from": "2021-05-01T00:00:00"}, 422, "from"),
        (
            "GET",
            "/api/inventory/overview",
            None,
            {"from": "2021-05-02T00:00:00+02:00", "to": "2021-05-01T00:00:00+02:00"},
            422,
            "to",
        ),
    ]
    failures = []
    for method, path, body, params, status, field in cases:
        r = await gw.request(method, path, headers=admin, json=body, params=params)
        answer = r.json()
        fields = [d["field"] for d in answer.get("details") or []]
        named = not field or any(f == field or f.endswith(f".{field}") for f in fields)
        if r.status_code != status or not named or not answer.get("message"):
            failures.append((method, path, body, params, r.status_code, r.text[:200]))
    assert not failures, failures
