"""RX-4's views reach large tables through their indexes, never by reading one whole: the
coverage per unit, care provider, region, municipality and age band (every vaccine, a
vaccine, a vaccine and dose number: the doses read vaccine by vaccine) and the stock per unit,
care provider and region, over a region's worth of
rows (≥100k each of doses, doses entered as history, patients, batches and days of stock
movements over a year). The statements are the store's own (``coverage_query``, ``stock_query``), explained
with the planner's custom plan and with the generic plan a prepared statement may switch to.
The figures of each level add up to the region's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Executable

from vaccinera_devstack.explain import explain, filled_database, generic_plan, plan_nodes
from vaccinera_devstack.infra import Infrastructure
from vaccinera_kit.database import Database
from vaccinera_registry_export import tables
from vaccinera_registry_export.domain.statistics import Days, local_day
from vaccinera_registry_export.store.statistics import coverage_query, stock_query

pytestmark = pytest.mark.infra

SCRIPTS = Path(tables.__file__).parent / "migrations"
LARGE = frozenset({"doses", "historical_doses", "patients", "stock_batches", "stock_days"})
TODAY = local_day(datetime.now(UTC))
PATIENTS = 200_000
DOSES = 400_000  # ten vaccines, up to four doses a person
HISTORY = 100_000
BATCHES = 120_000  # a year's deliveries: 2 % still in stock
UNITS = 200  # 40 care providers
DAYS = 219_000  # (unit, vaccine, day) rows over a year: 600 a day

FILL = [
    "INSERT INTO vaccines (vaccine_id, name) SELECT 'v' || i, 'Vaccin ' || i "
    "FROM generate_series(0, 9) AS i",
    "INSERT INTO population_count (key, counted_at, ages_on) VALUES ('population', now(), :today)",
    "INSERT INTO population (position, municipality_code, municipality, age_band, persons) "
    "SELECT row_number() OVER (), m, 'Kommun ' || m, b, 1000 "
    "FROM unnest(ARRAY['0580', '0581', '0582', NULL]) AS m, "
    "unnest(ARRAY['0-11', '12-15', '16-17', '18-29', '30-39', '40-49', '50-59', '60-64', "
    "'65-69', '70-79', '80+']) AS b",
    "INSERT INTO patients (patient_id, identifier, identifier_kind, municipality_code, "
    "birth_date) SELECT 'p' || i, 'id' || i, 'personnummer', "
    "CASE WHEN i % 200 = 4 THEN NULL ELSE '058' || (i % 3) END, "
    "CASE WHEN i % 50 = 0 THEN NULL ELSE DATE '1920-01-01' + (i % 37000) END "
    "FROM generate_series(1, :patients) AS i",
    "INSERT INTO doses (administration_id, patient_id, vaccine_id, vaccine_name, dose_number, "
    "batch_number, unit_id, care_provider_id, administered_at, vaccinator_hsa_id, version) "
    "SELECT 'a' || i, 'p' || (1 + i % :patients), 'v' || (i % 10), 'Vaccin', "
    "1 + (i / :patients) % 4, 'N', 'unit-' || (i % :units), "
    "'provider-' || (i % :units % 40), now() - interval '1 minute' * i, 'SE-nurse', 1 "
    "FROM generate_series(1, :doses) AS i",
    "INSERT INTO historical_doses (historical_dose_id, patient_id, vaccine_id, vaccine_name, "
    "dose_number, given_on, unit_id, care_provider_id, recorded_at, recorded_by_hsa_id) "
    "SELECT 'h' || i, 'p' || (1 + i * 7 % :patients), 'v' || (i % 10), 'Vaccin', 1 + i % 3, "
    "DATE '2021-06-01', 'unit-' || (i % :units), 'provider-x', now(), 'SE-nurse' "
    "FROM generate_series(1, :history) AS i",
    # Each dose carries its patient's register facts, as the handlers keep them.
    "UPDATE doses AS d SET municipality_code = p.municipality_code, birth_date = p.birth_date "
    "FROM patients AS p WHERE p.patient_id = d.patient_id",
    "UPDATE historical_doses AS h SET municipality_code = p.municipality_code, "
    "birth_date = p.birth_date FROM patients AS p WHERE p.patient_id = h.patient_id",
    "INSERT INTO stock_batches (batch_id, unit_id, care_provider_id, vaccine_id, expires_on, "
    "balance, changed_at) SELECT 'b' || i, 'unit-' || (i % :units), "
    "'provider-' || (i % :units % 40), 'v' || (i % 10), CAST(:today AS date) + (i % 60) - 10, "
    "CASE WHEN i % 50 = 0 THEN 1 + i % 300 ELSE 0 END, now() "
    "FROM generate_series(1, :batches) AS i",
    "INSERT INTO stock_days (day, unit_id, care_provider_id, vaccine_id, delivered, "
    "administered, discarded, corrected) SELECT CAST(:today AS date) - 364 + i / 600, "
    "'unit-' || (i % :units), 'provider-' || (i % :units % 40), "
    "'v' || (i / :units % 10), i % 7, i % 11, i % 3, 0 "
    "FROM generate_series(0, :days - 1) AS i",
]


@pytest.fixture(scope="module")
async def db(infra: Infrastructure) -> AsyncIterator[Database]:
    params = {
        "today": TODAY,
        "patients": PATIENTS,
        "doses": DOSES,
        "history": HISTORY,
        "batches": BATCHES,
        "units": UNITS,
        "days": DAYS,
    }
    async with filled_database(
        infra, "registry-export-stats-hot", SCRIPTS, tables.metadata, FILL, params, LARGE
    ) as (database, sizes):
        assert all(n >= 100_000 for n in sizes.values()), sizes
        yield database


MONTH = Days(TODAY - timedelta(days=29), TODAY)
WEEK = Days(TODAY - timedelta(days=6), TODAY)

HOT: dict[str, Executable] = {
    **{
        f"coverage by {by}, a vaccine's dose 2": coverage_query(by, "v3", 2, TODAY)  # type: ignore[arg-type]
        for by in ("unit", "care_provider", "region", "municipality", "age_band")
    },
    **{
        f"coverage by {by}, a vaccine's every dose": coverage_query(by, "v3", None, TODAY)  # type: ignore[arg-type]
        for by in ("unit", "care_provider", "region", "municipality", "age_band")
    },
    **{
        f"coverage by {by}, every vaccine and dose": coverage_query(by, None, None, TODAY)  # type: ignore[arg-type]
        for by in ("unit", "care_provider", "region", "municipality", "age_band")
    },
    **{
        f"stock by {by}, {name}": stock_query(by, days, TODAY)  # type: ignore[arg-type]
        for by in ("unit", "care_provider", "region")
        for name, days in (("a month", MONTH), ("a week", WEEK))
    },
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
async def test_rx4_statistics_reach_large_tables_through_indexes(
    db: Database, name: str, generic: bool
) -> None:
    assert await _full_scans(db, HOT[name], generic) == []


async def test_rx4_levels_add_up_to_the_region(db: Database) -> None:
    """Stock: each level's figures sum to the region's. Coverage by municipality and by age
    band place the same persons as the region (the unplaced apart)."""

    async def stock_totals(by: str) -> dict[str, tuple[int, ...]]:
        async with db.connect() as conn:
            rows = (await conn.execute(stock_query(by, MONTH, TODAY))).all()  # type: ignore[arg-type]
        sums: dict[str, list[int]] = {}
        for r in rows:
            acc = sums.setdefault(r.vaccine_id, [0] * 6)
            for i, k in enumerate(
                ("usable", "expired", "delivered", "administered", "discarded", "corrected")
            ):
                acc[i] += int(getattr(r, k))
        return {k: tuple(v) for k, v in sums.items()}

    region = await stock_totals("region")
    assert region == await stock_totals("unit") == await stock_totals("care_provider")
    assert len(region) == 10 and all(t[3] > 0 for t in region.values())

    async def placed(by: str) -> int:
        async with db.connect() as conn:
            rows = (await conn.execute(coverage_query(by, "v3", 1, TODAY))).all()  # type: ignore[arg-type]
        return sum(r.persons for r in rows if r.key is not None)

    async with db.connect() as conn:
        (region_row,) = [
            r
            for r in (await conn.execute(coverage_query("region", "v3", 1, TODAY))).all()
            if r.key == "region"
        ]
    assert region_row.population == 44 * 1000
    assert await placed("age_band") == region_row.persons > 0
    # By municipality, persons without one (protected: here 1 in 200) are not placed.
    assert 0 < await placed("municipality") < region_row.persons
