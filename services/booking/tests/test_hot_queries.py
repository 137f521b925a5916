"""Issue 7 item 7: booking's hot queries reach their rows through an index over tables of
≥100k rows (slots, bookings, patients, next_doses), never by reading a large table whole. The
statements are built by the store's own functions, so this checks what the service runs; each
is explained with the planner's custom plan for the values and with the generic plan a
prepared statement may switch to."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Executable, text

from vaccinera_booking import domain, tables
from vaccinera_booking.store import (
    candidates_query,
    capacity_query,
    day_slots_query,
    free_times_query,
    next_dose_query,
    patient_bookings_query,
    patient_by_identifier_query,
)
from vaccinera_devstack.explain import explain, generic_plan, plan_nodes
from vaccinera_devstack.infra import Infrastructure
from vaccinera_kit import migrations
from vaccinera_kit.database import Database

pytestmark = pytest.mark.infra

MIGRATIONS = Path(tables.__file__).parent / "migrations"
LARGE = frozenset({"slots", "bookings", "patients", "next_doses"})
SMALL_BOOKS = 10  # 1,000 slots each
BIG_DAYS = 200  # the big book: 5 columns, 08:00-16:00 every 5 minutes
PATIENTS = 120_000
# Day 0 of the data: far enough ahead that every slot is in the future.
BASE = datetime.combine(datetime.now(UTC).date() + timedelta(days=10), time(), domain.TZ)

FILL = [
    "INSERT INTO time_books (time_book_id, unit_id, unit_name, name, version) "
    "SELECT 'tb' || i, 'unit-' || (i % 20), 'Unit', 'Book ' || i, 1 "
    "FROM generate_series(0, :books) AS i",
    "INSERT INTO time_book_resources (time_book_id, resource, columns, position) "
    "SELECT 'tb' || i, r.resource, r.columns, r.position "
    "FROM generate_series(0, :books) AS i, "
    "(VALUES ('nurse', 5, 0), ('doctor', 1, 1)) AS r (resource, columns, position)",
    "INSERT INTO visit_types (visit_type_id, time_book_id, position, name, category, resource, "
    "duration_minutes, dose) SELECT 'vt' || i || '-' || k, 'tb' || i, k, 'Dos ' || k, "
    "'Covid-19', 'nurse', 5, k FROM generate_series(0, :books) AS i, generate_series(1, 2) AS k",
    "INSERT INTO patients (patient_id, identifier_kind, identifier_value, protected) "
    "SELECT 'p' || i, 'personnummer', lpad(i::text, 12, '0'), false "
    "FROM generate_series(1, :patients) AS i",
    # Every patient has had dose 1, every second dose 2 too (BK-10).
    "INSERT INTO next_doses (patient_id, dose_number, next_dose_from) "
    "SELECT 'p' || i, d, CAST(CAST(:base AS timestamptz) AS date) + 21 * d "
    "FROM generate_series(1, :patients) AS i, generate_series(1, 2) AS d "
    "WHERE d = 1 OR i % 2 = 0",
    # tb0 is a big vaccination centre: BIG_DAYS days of 96 times in 5 columns.
    'INSERT INTO slots (time_book_id, resource, "column", start, "end") '
    "SELECT 'tb0', 'nurse', c, t, t + interval '5 minutes' FROM generate_series(0, :big_days - 1) "
    "AS d, generate_series(0, 95) AS k, generate_series(1, 5) AS c, "
    "LATERAL (SELECT CAST(:base AS timestamptz) + d * interval '1 day' + interval '8 hours' "
    "+ k * interval '5 minutes' AS t) AS at",
    # The others: 200 times in 5 columns over 5 days each.
    'INSERT INTO slots (time_book_id, resource, "column", start, "end") '
    "SELECT 'tb' || i, 'nurse', c, t, t + interval '5 minutes' "
    "FROM generate_series(1, :books) AS i, generate_series(0, 199) AS k, "
    "generate_series(1, 5) AS c, LATERAL (SELECT CAST(:base AS timestamptz) "
    "+ (k / 40) * interval '1 day' + interval '8 hours' + (k % 40) * interval '5 minutes' AS t) "
    "AS at",
    # Every slot but each fifth is booked, a cancelled booking on each fifth; tb9 is full.
    "INSERT INTO bookings (booking_id, reference, code_hash, patient_id, unit_id, time_book_id, "
    'visit_type_id, visit_type_name, dose, slot_id, "column", start, "end", status, '
    "booked_by, version) "
    "SELECT 'b' || s.slot_id, 'VB-' || s.slot_id, 'x', 'p' || (1 + s.slot_id % :patients), "
    "'unit-' || (substr(s.time_book_id, 3)::int % 20), s.time_book_id, "
    "'vt' || substr(s.time_book_id, 3) || '-1', 'Dos 1', 1, s.slot_id, s.\"column\", s.start, s.\"end\", "
    "CASE WHEN s.slot_id % 5 = 0 AND s.time_book_id <> 'tb9' THEN 'cancelled' ELSE 'booked' END, "
    "'staff', 1 FROM slots AS s",
]


@pytest.fixture(scope="module")
async def db(infra: Infrastructure) -> AsyncIterator[Database]:
    database = Database(infra.database_url(f"booking-hot-{uuid.uuid4().hex[:6]}"))
    await migrations.upgrade(database, MIGRATIONS, tables.metadata)
    params = {
        "books": SMALL_BOOKS,
        "big_days": BIG_DAYS,
        "patients": PATIENTS,
        "base": BASE,
    }
    async with database.engine.begin() as conn:
        for statement in FILL:
            await conn.execute(text(statement), params)
    # Committed: statistics an aborted transaction gathered are thrown away with it.
    async with database.engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
        sizes = {
            name: await conn.scalar(text(f"SELECT count(*) FROM {name}")) for name in sorted(LARGE)
        }
    assert all(n >= 100_000 for n in sizes.values()), sizes
    yield database
    await database.dispose()


def _day(n: int, hh: int = 0, mm: int = 0) -> datetime:
    return (BASE + timedelta(days=n, hours=hh, minutes=mm)).astimezone(UTC)


HOT: dict[str, Callable[[], Executable]] = {
    "candidates (big book)": lambda: candidates_query("tb0", "nurse", _day(3, 10), 5, "vt0-1"),
    "candidates (small book)": lambda: candidates_query("tb7", "nurse", _day(2, 9), 5, "vt7-1"),
    "free times, 28 days (big book)": lambda: free_times_query(
        "tb0", "nurse", _day(1), _day(29), timedelta(minutes=5), 100
    ),
    "free times, 28 days (small book)": lambda: free_times_query(
        "tb7", "nurse", _day(0), _day(28), timedelta(minutes=5), 100
    ),
    "free times, next 2 days after a lost race": lambda: free_times_query(
        "tb0", "nurse", _day(3, 10), _day(5, 10), timedelta(minutes=5), 5
    ),
    "free times, 28 days (fully booked book)": lambda: free_times_query(
        "tb9", "nurse", _day(0), _day(28), timedelta(minutes=5), 500
    ),
    "free times, a year (big book)": lambda: free_times_query(
        "tb0", "nurse", _day(0), _day(365), timedelta(minutes=5), 500
    ),
    "capacity, a week (big book)": lambda: capacity_query("tb0", _day(7), _day(14)),
    "capacity, a day (small book)": lambda: capacity_query("tb7", _day(1), _day(2)),
    "day view (big book)": lambda: day_slots_query("tb0", _day(20), _day(21)),
    "day view (small book)": lambda: day_slots_query("tb7", _day(3), _day(4)),
    "patient by identifier": lambda: patient_by_identifier_query(f"{4711:012d}"),
    "bookings of a patient at a unit": lambda: patient_bookings_query("p4711", "unit-3"),
    "bookings of a patient (citizen)": lambda: patient_bookings_query("p4711", None),
    "next dose's first day (booking a dose 2)": lambda: next_dose_query("p4711", 1),
}


async def _full_scans(db: Database, statement: Executable, generic: bool) -> list[str]:
    async with db.connect() as conn:
        plan = await generic_plan(conn, statement) if generic else await explain(conn, statement)
    return [
        f"{node['Node Type']} on {node.get('Relation Name')}"
        for node in plan_nodes(plan)
        if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in LARGE
    ]


@pytest.mark.parametrize("generic", [False, True], ids=["custom plan", "generic plan"])
@pytest.mark.parametrize("name", sorted(HOT))
async def test_bk_hot_query_uses_an_index(db: Database, name: str, generic: bool) -> None:
    assert await _full_scans(db, HOT[name](), generic) == []
