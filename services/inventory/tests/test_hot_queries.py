"""The inventory's hot statements reach their rows through an index over tables of ≥100k rows
(batches, movements, administrations), never by reading a large table whole: the decrement's
batch lock and its low-stock sum, the unit's stock and usable batches, the discrepancies, a
batch's history, and the regional overview per unit, care provider and region (IN-2, IN-5,
IN-6). The statements are built by the store's own functions, so this checks what the
service runs; each is explained with the planner's custom plan for the values and with the
generic plan a prepared statement may switch to."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Executable, text

from vaccinera_devstack.explain import explain, generic_plan, plan_nodes
from vaccinera_devstack.infra import Infrastructure
from vaccinera_inventory import tables
from vaccinera_inventory.domain import Period, local_day
from vaccinera_inventory.store import (
    batch_query,
    discrepancies_query,
    movements_query,
    overview_query,
    unit_batches_query,
    usable_doses_query,
)
from vaccinera_kit import migrations
from vaccinera_kit.database import Database

pytestmark = pytest.mark.infra

SCRIPTS = Path(tables.__file__).parent / "migrations"
LARGE = frozenset({"batches", "movements", "administrations"})
UNITS = 200  # 40 care providers
BATCHES = 120_000  # a year's deliveries: most used up, 2 % in stock
MOVEMENTS = 400_000  # over a year
NOW = datetime.now(UTC)
TODAY = local_day(NOW)

FILL = [
    "INSERT INTO vaccines (vaccine_id, name) "
    "SELECT 'v' || i, 'Vaccin ' || i FROM generate_series(0, 9) AS i",
    "INSERT INTO batches (batch_id, unit_id, care_provider_id, vaccine_id, batch_number, "
    "expires_on, balance, delivered, checked_in_at) "
    "SELECT 'b' || i, 'unit-' || (i % :units), 'provider-' || (i % :units % 40), 'v' || (i % 10), "
    "'N' || i, CAST(:today AS date) + (i % 60) - 10, "
    "CASE WHEN i % 50 = 0 THEN 1 + i % 300 ELSE 0 END, 300, now() - interval '1 day' * (i % 365) "
    "FROM generate_series(1, :batches) AS i",
    "INSERT INTO movements (batch_id, unit_id, care_provider_id, vaccine_id, change, delta, "
    "balance, at) "
    "SELECT 'b' || (1 + i % :batches), 'unit-' || ((1 + i % :batches) % :units), "
    "'provider-' || ((1 + i % :batches) % :units % 40), 'v' || ((1 + i % :batches) % 10), "
    "(ARRAY['administered', 'administered', 'administered', 'discarded', 'checked_in', "
    "'corrected'])[1 + i % 6], CASE WHEN i % 6 IN (4, 5) THEN 5 ELSE -1 END, 0, "
    "now() - interval '1 minute' * (i % 525600) FROM generate_series(1, :movements) AS i",
    "INSERT INTO administrations (administration_id, batch_id, unit_id, care_provider_id, "
    "vaccine_id, administered_at, decremented, discrepancy, recorded_at) "
    "SELECT 'a' || i, 'b' || (1 + i % :batches), 'unit-' || (i % :units), 'provider-x', "
    "'v' || (i % 10), now() - interval '1 minute' * i, i % 500 <> 0, "
    "CASE WHEN i % 500 = 0 THEN 'empty' END, now() - interval '1 minute' * i "
    "FROM generate_series(1, :movements / 2) AS i",
]


@pytest.fixture(scope="module")
async def db(infra: Infrastructure) -> AsyncIterator[Database]:
    database = Database(infra.database_url(f"inventory-hot-{uuid.uuid4().hex[:6]}"))
    await migrations.upgrade(database, SCRIPTS, tables.metadata)
    params = {"units": UNITS, "batches": BATCHES, "movements": MOVEMENTS, "today": TODAY}
    async with database.engine.begin() as conn:
        for statement in FILL:
            await conn.execute(text(statement), params)
    # Committed: statistics an aborted transaction gathered are thrown away with it. VACUUM
    # (outside a transaction) sets the visibility map, as autovacuum does in production.
    async with database.engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))
        sizes = {
            name: await conn.scalar(text(f"SELECT count(*) FROM {name}")) for name in sorted(LARGE)
        }
    assert all(n >= 100_000 for n in sizes.values()), sizes
    yield database
    await database.dispose()


MONTH = Period(NOW - timedelta(days=30), NOW)
WEEK = Period(NOW - timedelta(days=7), NOW)

HOT: dict[str, Callable[[], Executable]] = {
    "decrement: the batch, locked": lambda: batch_query("b4711", lock=True),
    "decrement: usable doses of the unit's vaccine": lambda: usable_doses_query(
        "unit-11", "v1", TODAY
    ),
    "the unit's stock": lambda: unit_batches_query("unit-11"),
    "the unit's usable batches of a vaccine": lambda: unit_batches_query("unit-11", "v1"),
    "the unit's discrepancies": lambda: discrepancies_query("unit-7", 500),
    "a batch's history": lambda: movements_query("b4711", 200),
    "overview per unit, a month": lambda: overview_query("unit", MONTH, TODAY),
    "overview per care provider, a month": lambda: overview_query("care_provider", MONTH, TODAY),
    "overview of the region, a week": lambda: overview_query("region", WEEK, TODAY),
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
async def test_in2_in5_in6_hot_query_uses_an_index(db: Database, name: str, generic: bool) -> None:
    assert await _full_scans(db, HOT[name](), generic) == []


async def test_in5_overview_figures_add_up_across_levels(db: Database) -> None:
    """One statement per level over the same rows: the region's totals are the units'."""

    async def totals(level: str) -> dict[str, tuple[int, ...]]:
        async with db.connect() as conn:
            rows = (await conn.execute(overview_query(level, MONTH, TODAY))).mappings().all()  # type: ignore[arg-type]
        sums: dict[str, list[int]] = {}
        for r in rows:
            acc = sums.setdefault(r["vaccine_id"], [0] * 6)
            for i, k in enumerate(
                ("usable", "expired", "delivered", "administered", "discarded", "corrected")
            ):
                acc[i] += int(r[k])
        return {k: tuple(v) for k, v in sums.items()}

    region = await totals("region")
    assert region == await totals("unit") == await totals("care_provider")
    assert len(region) == 10 and all(t[3] > 0 for t in region.values())
