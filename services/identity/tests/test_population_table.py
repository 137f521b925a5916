"""ID-2 in the database (issue 7 item 6): the synthetic population register is loaded with COPY
at the first start, once, also with two replicas starting together; it holds ≥400k persons and
answers every lookup exactly as the register that generated it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from vaccinera_identity import tables
from vaccinera_identity.population import SyntheticRegister
from vaccinera_identity.population_store import DatabaseRegister, load_population
from vaccinera_kit import migrations
from vaccinera_kit.database import Database

if TYPE_CHECKING:
    from vaccinera_devstack.infra import Infrastructure

pytestmark = pytest.mark.infra

SCRIPTS = Path(tables.__file__).parent / "migrations"
REGISTER = SyntheticRegister()


@pytest.fixture(scope="module")
def url(infra: Infrastructure) -> Iterator[str]:
    name = f"identity-pop-{uuid.uuid4().hex[:6]}"
    yield infra.database_url(name)
    # Large: gone before the session's leak tests dump every database.
    infra.postgres.drop_database(name)


@pytest.fixture(scope="module")
async def loaded(url: str) -> AsyncIterator[Database]:
    """Two replicas starting at once on an empty database: migrate, then load."""
    replicas = [Database(url), Database(url)]
    try:

        async def start(db: Database) -> int:
            await migrations.upgrade(db, SCRIPTS, tables.metadata)
            return await load_population(db, SyntheticRegister())

        loads = await asyncio.gather(*(start(db) for db in replicas))
        # Exactly one replica loaded; the other found the register there.
        assert sorted(loads) == [0, REGISTER.total_population()]
        yield replicas[0]
    finally:
        for db in replicas:
            await db.dispose()


async def _count(db: Database) -> int:
    async with db.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(tables.population)) or 0)


async def test_id2_register_table_holds_the_whole_population(loaded: Database) -> None:
    total = await _count(loaded)
    assert total >= 400_000
    assert total == REGISTER.total_population()
    async with loaded.connect() as conn:
        marker = (await conn.execute(select(tables.population_load))).one()
    assert (marker.seed, marker.today, marker.persons) == (REGISTER.seed, REGISTER.today, total)


async def test_id2_a_restart_does_not_load_again(loaded: Database, url: str) -> None:
    before = await _count(loaded)
    restarted = Database(url)
    try:
        await migrations.upgrade(restarted, SCRIPTS, tables.metadata)
        assert await load_population(restarted, SyntheticRegister()) == 0
    finally:
        await restarted.dispose()
    assert await _count(loaded) == before


async def test_id2_database_register_answers_as_the_generator(loaded: Database) -> None:
    register = DatabaseRegister(loaded)
    people = [
        *REGISTER.sample(300, seed=21),
        *REGISTER.sample(20, seed=22, protected=True),
        *REGISTER.sample(20, seed=23, coordination=True),
    ]
    for person in people:
        assert await register.lookup(person.identifier) == person
    protected = [p for p in people if p.protected]
    assert protected
    for person in protected:
        found = await register.lookup(person.identifier)
        assert found is not None
        assert (found.given_name, found.family_name, found.address) == ("", "", None)


async def test_id2_database_register_does_not_know_the_unregistered(loaded: Database) -> None:
    register = DatabaseRegister(loaded)
    person = REGISTER.sample(1, seed=5)[0]
    wrong_check = person.identifier[:-1] + str((int(person.identifier[-1]) + 1) % 10)
    for identifier in (wrong_check, person.identifier[2:], "", "abcdefghijkl", "05R000000001"):
        assert await register.lookup(identifier) is None
