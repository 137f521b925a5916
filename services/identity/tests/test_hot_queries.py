"""Identity's hot statements reach their rows through an index over large tables (issue 7
items 6 and 7): a patient by id and by identifier, the save, a patient's access log newest
first, and the population register lookup, each over ≥100k rows. The statements come from the
store's own builders, so this checks what production runs."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Executable, func, select, text

from vaccinera_contracts.identifiers import parse_identifier
from vaccinera_devstack.explain import sequential_scans
from vaccinera_identity import store, tables
from vaccinera_identity.domain import Patient, register_patient
from vaccinera_identity.population_store import person_by_identifier
from vaccinera_kit import migrations
from vaccinera_kit.database import Database

if TYPE_CHECKING:
    from vaccinera_devstack.infra import Infrastructure

pytestmark = pytest.mark.infra

PATIENTS = 100_000
ACCESS_ENTRIES = 150_000
PERSONS = 200_000
SCRIPTS = Path(tables.__file__).parent / "migrations"

FILL = (
    # Identifiers as the service stores them: 12 digits, distinct.
    """
    INSERT INTO patients (patient_id, identifier_kind, identifier_value, protected, given_name,
        family_name, registered_at, mobile, blocks, consents, version)
    SELECT 'p-' || i, 'personnummer', (190000000000 + i)::text, i % 200 = 0, 'G', 'F', now(),
        CASE WHEN i % 200 = 0 THEN NULL ELSE '+4670' || lpad(i::text, 7, '0') END,
        '[]', '[]', 1
    FROM generate_series(1, :patients) AS i
    """,
    # Most patients have a few entries; p-1 has thousands (a patient read in every service).
    """
    INSERT INTO access_log (event_id, patient_id, service, operation, action, purpose, at,
        actor_kind, actor, hsa_id)
    SELECT gen_random_uuid(),
        CASE WHEN i % 30 = 0 THEN 'p-1' ELSE 'p-' || (i % :patients + 1) END,
        'booking', 'booking.self_booking', 'read', 'care', now() - interval '1 second' * i,
        'staff', 'SE2321000000-nurse', 'SE2321000000-nurse'
    FROM generate_series(1, :entries) AS i
    """,
    """
    INSERT INTO population (identifier, given_name, family_name, protected, street,
        postal_code, city, municipality_code, municipality, birth_date, sex)
    SELECT (195000000000 + i)::text, 'G', 'F', false, 'Storgatan 1', '582 22', 'Linköping',
        '0580', 'Linköping', date '1950-01-01' + i % 20000, 'female'
    FROM generate_series(1, :persons) AS i
    """,
)


@pytest.fixture(scope="module")
async def db(infra: Infrastructure) -> AsyncIterator[Database]:
    name = f"identity-hot-{uuid.uuid4().hex[:6]}"
    database = Database(infra.database_url(name))
    await migrations.upgrade(database, SCRIPTS, tables.metadata)
    params = {"patients": PATIENTS, "entries": ACCESS_ENTRIES, "persons": PERSONS}
    async with database.engine.begin() as conn:
        for statement in FILL:
            await conn.execute(text(statement), params)
        await conn.execute(text("ANALYZE patients, access_log, population"))
    yield database
    await database.dispose()
    # Large: gone before the session's leak tests dump every database.
    infra.postgres.drop_database(name)


def _patient_at_version_1() -> Patient:
    patient = register_patient(
        parse_identifier("19121212-1212"),
        given_name="Tolvan",
        family_name="Tolvansson",
        now=datetime(2026, 11, 27, tzinfo=UTC),
    )
    return dataclasses.replace(patient, patient_id="p-4242", version=1, events=[])


HOT: dict[str, Callable[[], Executable]] = {
    "patient by id": lambda: store.patient_by_id("p-4242"),
    "patient by identifier": lambda: store.patient_by_identifier(str(190000000000 + 4242)),
    "patient save (optimistic)": lambda: store.update_patient(_patient_at_version_1()),
    "access log of a patient": lambda: store.access_log_for_patient("p-4242", 200),
    "access log of a much-read patient": lambda: store.access_log_for_patient("p-1", 200),
    "population lookup": lambda: person_by_identifier(str(195000000000 + 4242)),
}


async def test_tables_are_large(db: Database) -> None:
    async with db.connect() as conn:
        for table, least in (
            (tables.patients, PATIENTS),
            (tables.access_log, ACCESS_ENTRIES),
            (tables.population, PERSONS),
        ):
            count = await conn.scalar(select(func.count()).select_from(table))
            assert count is not None and count >= least, table.name


@pytest.mark.parametrize("name", sorted(HOT))
async def test_hot_query_reads_through_an_index(db: Database, name: str) -> None:
    async with db.connect() as conn:
        assert await sequential_scans(conn, HOT[name]()) == [], name


async def test_sms_recipients_of_a_claimed_batch_come_by_the_primary_key(db: Database) -> None:
    batch = {"ids": [f"p-{i}" for i in range(1, 4000, 250)]}  # one sender's claim (issue 9)
    async with db.connect() as conn:
        assert await sequential_scans(conn, store.SMS_CONTACTS, batch) == []
        found = await store.sms_contacts(conn, batch["ids"])
    assert set(found) == set(batch["ids"])
