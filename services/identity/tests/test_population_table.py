"""ID-2 in the database (issue 7 item 6): the synthetic population register is loaded with COPY
at the first start, once, also with two replicas starting together; it holds ≥400k persons and
answers every lookup exactly as the register that generated it. RX-4: the load publishes the
register's counts per municipality and age band (``PopulationCounted``) in its transaction,
once per load, with protected persons counted without a municipality (ID-3)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select, text, update

from vaccinera_contracts.events import PopulationCounted
from vaccinera_identity import tables
from vaccinera_identity.population import SyntheticRegister
from vaccinera_identity.population_store import DatabaseRegister, load_population
from vaccinera_kit import migrations
from vaccinera_kit.database import Database
from vaccinera_kit.outbox import Outbox
from vaccinera_kit.unit_of_work import UnitOfWorkFactory

if TYPE_CHECKING:
    from vaccinera_devstack.infra import Infrastructure

pytestmark = pytest.mark.infra

SCRIPTS = Path(tables.__file__).parent / "migrations"
REGISTER = SyntheticRegister()


def loader(db: Database) -> UnitOfWorkFactory:
    """The service's unit of work: the counts go to its outbox."""
    return UnitOfWorkFactory(db, Outbox("identity"), lambda: None)


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
            return await load_population(loader(db), SyntheticRegister())

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
        assert await load_population(loader(restarted), SyntheticRegister()) == 0
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


async def _counts_published(db: Database) -> list[dict[str, Any]]:
    async with db.connect() as conn:
        values = (
            await conn.scalars(
                text("SELECT value FROM outbox WHERE type = :type ORDER BY id"),
                {"type": PopulationCounted.event_type},
            )
        ).all()
    return [json.loads(v) for v in values]


def _hand_count() -> Counter[tuple[str | None, str]]:
    """The register counted here, person by person, by the bands' ages written out (not the
    contract's function, not SQL): protected persons with no municipality."""
    edges = [(11, "0-11"), (15, "12-15"), (17, "16-17"), (29, "18-29"), (39, "30-39")]
    edges += [(49, "40-49"), (59, "50-59"), (64, "60-64"), (69, "65-69"), (79, "70-79")]
    today = REGISTER.today
    counts: Counter[tuple[str | None, str]] = Counter()
    for row in REGISTER.rows():
        born = row.birth_date
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        band = next((name for last, name in edges if age <= last), "80+")
        counts[(None if row.protected else row.municipality_code, band)] += 1
    return counts


async def test_rx4_the_load_publishes_the_registers_counts_once(loaded: Database) -> None:
    (published,) = await _counts_published(loaded)
    event = PopulationCounted.model_validate(published["data"])
    assert event.ages_on == REGISTER.today
    assert sum(r.persons for r in event.rows) == REGISTER.total_population()
    counted = Counter({(r.municipality_code, r.age_band): r.persons for r in event.rows})
    assert counted == _hand_count()
    # Names go with the codes; protected persons' rows name no municipality (ID-3).
    names = {r.municipality_code: r.municipality for r in event.rows}
    assert names["0580"] == "Linköping" and names[None] is None
    assert len(names) == 14  # Östergötland's 13 municipalities and the protected
    assert 1_000 < sum(r.persons for r in event.rows if r.municipality_code is None) < 5_000


async def test_rx4_a_register_loaded_before_the_counts_is_counted_once(
    loaded: Database, url: str
) -> None:
    async with loaded.engine.begin() as conn:
        await conn.execute(update(tables.population_load).values(counted_at=None))
        await conn.execute(text("DELETE FROM outbox"))
    restarted = Database(url)
    try:
        # Nothing loaded again, the counts published once, and not at the next start.
        assert await load_population(loader(restarted), SyntheticRegister()) == 0
        assert await load_population(loader(restarted), SyntheticRegister()) == 0
    finally:
        await restarted.dispose()
    (published,) = await _counts_published(loaded)
    rows = PopulationCounted.model_validate(published["data"]).rows
    assert sum(r.persons for r in rows) == REGISTER.total_population()
