"""The journal's hot statements reach their rows through an index over tables of a campaign's
size (120k orders, 100k administrations over 30k patients, 20k doses given elsewhere, 50k
health declarations, 5k batches), never by reading a large table whole: loading a patient's
record (JR-2..JR-5), the declaration a dose is given on (JR-6), an order's patient, taking a
dose from a batch and what the inventory's events change of it (IN-2, IN-6), a patient's
blocks and consents (ID-5, ID-6), and saving a void or a dose given.

The statements are the ones the store's own functions send: each function runs on a
connection that records what it executes (in a transaction rolled back afterwards), and every
recorded statement is explained with the planner's plan for its values and with the generic
plan a prepared statement may switch to."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Executable, Insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_contracts.events import StockChanged
from vaccinera_devstack.explain import explain, filled_database, generic_plan, plan_nodes
from vaccinera_devstack.infra import Infrastructure
from vaccinera_journal import tables
from vaccinera_journal.domain import Administration, Order, PatientRecord, local_day
from vaccinera_journal.services.records import _patient_of_order
from vaccinera_journal.store import Batches, Declarations, Patients, Records, load
from vaccinera_kit.database import Database
from vaccinera_kit.unit_of_work import UnitOfWork

pytestmark = pytest.mark.infra

SCRIPTS = Path(tables.__file__).parent / "migrations"
LARGE = frozenset(
    {"orders", "administrations", "historical_doses", "declarations", "batches", "patients"}
)
PATIENTS = 30_000
ORDERS = 120_000  # every sixth still ordered or voided: 100k administrations
HISTORY = 20_000
DECLARATIONS = 50_000
BATCHES = 5_000
UNITS = 200  # 40 care providers
NOW = datetime.now(UTC)
TODAY = local_day(NOW)
VACCINES = "(ARRAY['vaccine-comirnaty', 'vaccine-spikevax', 'vaccine-vaxzevria'])"

FILL = [
    "INSERT INTO patients (patient_id, identifier, identifier_kind, blocks, consents) "
    "SELECT 'p' || i, '19' || lpad(i::text, 10, '0'), 'personnummer', '[]', '[]' "
    "FROM generate_series(0, :patients - 1) AS i",
    "INSERT INTO orders (order_id, patient_id, vaccine_id, dose_number, patient_group, unit_id, "
    "care_provider_id, ordered_at, prescriber_hsa_id, status, voided_at, voided_by_hsa_id, "
    "void_reason) "
    f"SELECT 'o' || i, 'p' || (i % :patients), {VACCINES}[1 + i % 3], 1 + i / :patients, "
    "'18-64', 'unit-' || (i % :units), 'provider-' || (i % :units % 40), "
    "now() - interval '1 minute' * (:orders - i), 'SE-doctor-' || (i % 500), "
    "CASE WHEN i % 12 = 0 THEN 'voided' WHEN i % 6 = 0 THEN 'ordered' ELSE 'administered' END, "
    "CASE WHEN i % 12 = 0 THEN now() END, CASE WHEN i % 12 = 0 THEN 'SE-doctor-1' END, "
    "CASE WHEN i % 12 = 0 THEN 'Fel vaccin' END "
    "FROM generate_series(1, :orders) AS i",
    "INSERT INTO administrations (administration_id, patient_id, order_id, vaccine_id, "
    "dose_number, batch_id, batch_number, unit_id, care_provider_id, administered_at, "
    "vaccinator_hsa_id, declaration_id) "
    f"SELECT 'a' || i, 'p' || (i % :patients), 'o' || i, {VACCINES}[1 + i % 3], "
    "1 + i / :patients, 'b' || (1 + i % :batches), 'N' || (1 + i % :batches), "
    "'unit-' || (i % :units), 'provider-' || (i % :units % 40), "
    "now() - interval '1 minute' * (:orders - i), 'SE-nurse-' || (i % 900), "
    "CASE WHEN i % 4 <> 0 THEN 'dcl' || (i % :declarations) END "
    "FROM generate_series(1, :orders) AS i WHERE i % 6 <> 0",
    "INSERT INTO historical_doses (historical_dose_id, patient_id, vaccine_id, dose_number, "
    "given_on, country, comment, unit_id, care_provider_id, recorded_at, recorded_by_hsa_id) "
    f"SELECT 'h' || i, 'p' || (i * 7 % :patients), {VACCINES}[1 + i % 3], 1 + i % 2, "
    "CAST(:today AS date) - 100 - i % 200, 'DK', 'Given utomlands', 'unit-' || (i % :units), "
    "'provider-' || (i % :units % 40), now() - interval '1 hour' * i, 'SE-doctor-' || (i % 500) "
    "FROM generate_series(1, :history) AS i",
    "INSERT INTO declarations (declaration_id, patient_id, unit_id, booking_id, submitted_at, "
    "answers) "
    "SELECT 'dcl' || i, 'p' || (i % :patients), 'unit-' || (i % :units), "
    "CASE WHEN i % 5 <> 0 THEN 'bk' || i END, now() - interval '10 minutes' * i, '[]' "
    "FROM generate_series(1, :declarations) AS i",
    "INSERT INTO batches (batch_id, unit_id, care_provider_id, vaccine_id, batch_number, "
    "expires_on, available) "
    f"SELECT 'b' || i, 'unit-' || (i % :units), 'provider-' || (i % :units % 40), "
    f"{VACCINES}[1 + i % 3], 'N' || i, CAST(:today AS date) + i % 60 - 10, i % 300 "
    "FROM generate_series(1, :batches) AS i",
]


@pytest.fixture(scope="module")
async def db(infra: Infrastructure) -> AsyncIterator[Database]:
    params = {
        "patients": PATIENTS,
        "orders": ORDERS,
        "history": HISTORY,
        "declarations": DECLARATIONS,
        "batches": BATCHES,
        "units": UNITS,
        "today": TODAY,
    }
    async with filled_database(
        infra, "journal-hot", SCRIPTS, tables.metadata, FILL, params, LARGE
    ) as (database, sizes):
        assert sizes == {
            "administrations": 100_000,
            "batches": BATCHES,
            "declarations": DECLARATIONS,
            "historical_doses": HISTORY,
            "orders": ORDERS,
            "patients": PATIENTS,
        }
        yield database


class Recording:
    """A connection that keeps every statement the store sends through it."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.statements: list[Executable] = []

    async def execute(self, statement: Executable, *args: Any, **kw: Any) -> Any:
        self.statements.append(statement)
        return await self.conn.execute(statement, *args, **kw)

    async def scalar(self, statement: Executable, *args: Any, **kw: Any) -> Any:
        self.statements.append(statement)
        return await self.conn.scalar(statement, *args, **kw)


def _reading(rec: Recording) -> Any:
    """A service context whose ``read()`` is the recording connection."""

    @asynccontextmanager
    async def read() -> AsyncIterator[Recording]:
        yield rec

    return SimpleNamespace(read=read)


# p4710: order o4710 (i % 12 == 6) is still ordered, with no administration.
OPEN_ORDER = Order(
    order_id="o4710",
    patient_id="p4710",
    vaccine_id="vaccine-comirnaty",
    dose_number=1,
    patient_group=None,
    unit_id="unit-110",
    care_provider_id="provider-30",
    ordered_at=NOW,
    prescriber_hsa_id="SE-doctor-1",
)


def _voided() -> PatientRecord:
    order = Order(**{**vars(OPEN_ORDER), "status": "voided"})
    order.voided_at, order.voided_by_hsa_id, order.void_reason = NOW, "SE-doctor-1", "Fel"
    return PatientRecord("p4710", orders=[order], voided=[order])


def _given() -> PatientRecord:
    given = Administration(
        administration_id=f"a-{uuid.uuid4()}",
        patient_id="p4710",
        order_id="o4710",
        vaccine_id="vaccine-comirnaty",
        dose_number=1,
        batch_id="b2711",
        batch_number="N2711",
        unit_id="unit-110",
        care_provider_id="provider-30",
        administered_at=NOW,
        vaccinator_hsa_id="SE-nurse-1",
    )
    return PatientRecord("p4710", administrations=[given], new_administrations=[given])


def _discarded() -> StockChanged:
    return StockChanged(
        batch_id="b2711",
        unit_id="unit-111",
        care_provider_id="provider-31",
        vaccine_id="vaccine-spikevax",
        change="discarded",
        delta=-2,
        balance=0,
        reason="Tappad",
        by_hsa_id="SE-stock",
        at=NOW,
    )


Work = Callable[[Any], Awaitable[object]]

# The store's function, and how many statements it sends.
HOT: dict[str, tuple[Work, int]] = {
    "a patient's record: orders, administrations, doses given elsewhere": (
        lambda c: load(c, "p4711"),
        3,
    ),
    "the visit's declaration, by its booking": (
        lambda c: Declarations(c).for_dose("p4711", "unit-111", "bk4711", NOW),
        1,
    ),
    "no declaration of the booking: the latest at the unit": (
        lambda c: Declarations(c).for_dose("p4711", "unit-111", "bk-none", NOW),
        2,
    ),
    "without a booking: the latest at the unit": (
        lambda c: Declarations(c).for_dose("p4711", "unit-111", None, NOW),
        1,
    ),
    "the record's declarations": (
        lambda c: Declarations(c).many(["dcl4711", "dcl34711"]),
        1,
    ),
    "an order's patient": (lambda c: _patient_of_order(_reading(c), "o4711"), 1),
    "take one dose of the batch": (lambda c: Batches(c).take_one("b2711", TODAY), 1),
    "the batch": (lambda c: Batches(c).get("b2711"), 1),
    "a discard at the inventory": (lambda c: Batches(c).changed(_discarded()), 1),
    "the patient's blocks and consents": (lambda c: Patients(c).get("p4711"), 1),
    "save a void": (lambda c: Records(UnitOfWork(c)).save(_voided()), 1),
    "save a dose given": (lambda c: Records(UnitOfWork(c)).save(_given()), 2),
}


async def _recorded(db: Database, work: Work) -> list[Executable]:
    """What ``work`` sends, run in a transaction that is rolled back (``db.connect()`` would
    autocommit)."""
    async with db.engine.connect() as conn:
        rec = Recording(conn)
        await work(rec)
        await conn.rollback()
    return rec.statements


class _Expanded:
    """The statement compiled as asyncpg receives it: an ``IN`` list (an expanding parameter,
    ``__[POSTCOMPILE_...]`` in the plain compilation the explain helpers use) expanded to one
    parameter per value."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement

    def compile(self, dialect: Any) -> Any:
        return self.statement.compile(  # type: ignore[attr-defined]
            dialect=dialect, compile_kwargs={"render_postcompile": True}
        )


async def _full_scans(db: Database, statement: Executable, generic: bool) -> list[str]:
    expanded: Any = _Expanded(statement)
    async with db.engine.connect() as conn:
        plan = await generic_plan(conn, expanded) if generic else await explain(conn, expanded)
        await conn.rollback()
    return [
        f"{node['Node Type']} on {node.get('Relation Name')}"
        for node in plan_nodes(plan)
        if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in LARGE
    ]


@pytest.mark.parametrize("generic", [False, True], ids=["custom plan", "generic plan"])
@pytest.mark.parametrize("name", sorted(HOT))
async def test_jr2_jr4_jr6_in2_id5_hot_query_uses_an_index(
    db: Database, name: str, generic: bool
) -> None:
    work, count = HOT[name]
    statements = await _recorded(db, work)
    assert len(statements) == count, [str(s) for s in statements]
    scans = {
        str(statement): await _full_scans(db, statement, generic)
        for statement in statements
        # An insert reads no table.
        if not isinstance(statement, Insert)
    }
    assert scans, "nothing to explain"
    assert {s: found for s, found in scans.items() if found} == {}


async def test_the_check_sees_a_full_scan(db: Database) -> None:
    """A control: orders by prescriber (no index) are read whole, and the check says so."""
    statement = select(tables.orders).where(tables.orders.c.prescriber_hsa_id == "SE-doctor-7")
    assert await _full_scans(db, statement, generic=False) == ["Seq Scan on orders"]
