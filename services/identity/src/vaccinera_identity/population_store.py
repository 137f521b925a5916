"""The synthetic population register in identity's database (ID-2).

``SyntheticRegister`` defines the population; ``load_population`` streams all of it into the
``population`` table with COPY at the first start, and ``DatabaseRegister`` answers lookups
from there through the primary key. The load is one transaction under an advisory lock and
ends by writing ``population_load``: replicas starting together load once, a crash mid-load
leaves nothing behind, and every later start costs one indexed read.

The load's transaction also counts the register per municipality and age band and stages
``PopulationCounted`` in the outbox (RX-4: the denominators of vaccination coverage, no person
in them): published once per load, and once for a register loaded before the counts existed.

Nothing here logs a person: every value handled is personal data.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any, Literal

from sqlalchemy import Select, case, delete, func, insert, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_contracts.events import PopulationCounted, PopulationRow
from vaccinera_contracts.events.identity import AGE_BANDS, age_band
from vaccinera_identity.population import (
    CachedRegister,
    PersonRow,
    RegisteredPerson,
    SyntheticRegister,
    person_from_row,
)
from vaccinera_identity.settings import Settings
from vaccinera_identity.tables import population, population_load
from vaccinera_kit.app import Service
from vaccinera_kit.database import Database
from vaccinera_kit.unit_of_work import UnitOfWorkFactory

log = logging.getLogger("vaccinera.identity.population")

# Distinct from the kit's migration lock: the load runs after the migration has committed.
LOAD_LOCK = 0x5641_4343_1D01

COLUMNS = PersonRow._fields


def person_by_identifier(identifier: str) -> Select[Any]:
    """The hot lookup (issue 7: served by the primary key; see tests/test_hot_queries.py)."""
    return select(*(population.c[name] for name in COLUMNS)).where(
        population.c.identifier == identifier
    )


class DatabaseRegister:
    """``PopulationRegister`` over the population table."""

    def __init__(self, db: Database) -> None:
        # One statement needs no transaction: autocommit spares the BEGIN and ROLLBACK round
        # trips on the registration path (same pool).
        self.engine = db.engine.execution_options(isolation_level="AUTOCOMMIT")

    async def lookup(self, identifier: str) -> RegisteredPerson | None:
        # Only canonical identifiers can be in the table: skip the round trip for the rest.
        if len(identifier) != 12 or not (identifier.isascii() and identifier.isdigit()):
            return None
        async with self.engine.connect() as conn:
            row = (await conn.execute(person_by_identifier(identifier))).one_or_none()
        return person_from_row(PersonRow(*row)) if row is not None else None


# The service's hooks (``main.SPEC``).


def attach_register(service: Service) -> None:
    """The national register (PU) is reached through this adapter; locally, the synthetic one
    in identity's own database. Routes take it from ``app.state`` (``api.deps.RegisterDep``)."""
    settings = service.settings_as(Settings)
    service.app.state.population_register = CachedRegister(
        DatabaseRegister(service.db), ttl_seconds=settings.register_cache_seconds
    )


async def load_at_first_start(service: Service) -> None:
    """The synthetic register's rows, after the schema: the service is not ready before
    lookups can be answered."""
    await load_population(service.unit_of_work, SyntheticRegister())


async def load_population(unit_of_work: UnitOfWorkFactory, register: SyntheticRegister) -> int:
    """Load ``register`` unless the table already holds it, and publish its counts
    (``PopulationCounted``) in the same transaction unless they were published for this load;
    returns the persons loaded now (0 when there was nothing to load)."""
    async with unit_of_work.db.connect() as conn:
        if await _held(conn, register) == "counted":
            return 0
    began = time.monotonic()
    loaded = 0
    async with unit_of_work() as uow:
        conn = uow.conn
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOAD_LOCK})
        held = await _held(conn, register)  # another replica may have done it while we waited
        if held == "counted":
            return 0
        now = datetime.now(UTC)
        if held == "absent":
            # Another seed or date than what the table holds: replace it whole.
            await conn.execute(delete(population_load))
            await conn.execute(text("TRUNCATE population"))
            counted = _Counted(register.rows())
            raw = await conn.get_raw_connection()
            await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
                population.name, records=counted, columns=COLUMNS
            )
            await conn.execute(
                insert(population_load).values(
                    seed=register.seed, today=register.today, persons=counted.n, counted_at=now
                )
            )
            # Statistics now rather than at autovacuum's leisure, for the planner.
            await conn.execute(text("ANALYZE population"))
            loaded = counted.n
        else:  # loaded before the counts existed: counted once now
            await conn.execute(
                update(population_load)
                .where(population_load.c.seed == register.seed)
                .values(counted_at=now)
            )
        rows = await count_population(conn, register.today)
        uow.publish(PopulationCounted(counted_at=now, ages_on=register.today, rows=rows))
    if loaded:
        log.info(
            "synthetic population register loaded: %d persons in %.1fs",
            loaded,
            time.monotonic() - began,
        )
    log.info("population register counted for the coverage statistics")
    return loaded


async def count_population(conn: AsyncConnection, ages_on: date) -> tuple[PopulationRow, ...]:
    """Persons per municipality and age band (ages in whole years on ``ages_on``); protected
    persons per age band with no municipality (ID-3). Counted per year of age in the database
    (a few thousand groups, not half a million rows) and banded here, with the contract's
    bands."""
    protected = population.c.protected
    age = func.date_part("year", func.age(literal(ages_on), population.c.birth_date))
    code = case((protected, None), else_=population.c.municipality_code)
    name = case((protected, None), else_=population.c.municipality)
    grouped = await conn.execute(select(code, name, age, func.count()).group_by(code, name, age))
    persons: Counter[tuple[str | None, str | None, str]] = Counter()
    for municipality_code, municipality, years, n in grouped:
        persons[(municipality_code, municipality, age_band(int(years)))] += int(n)
    order = {band: i for i, (band, _, _) in enumerate(AGE_BANDS)}
    return tuple(
        PopulationRow(municipality_code=c, municipality=m, age_band=b, persons=n)
        for (c, m, b), n in sorted(
            persons.items(), key=lambda item: (item[0][0] or "~", order[item[0][2]])
        )
    )


async def _held(
    conn: AsyncConnection, register: SyntheticRegister
) -> Literal["absent", "loaded", "counted"]:
    """Whether the table holds ``register``, and whether its counts were published."""
    found = (
        await conn.execute(
            select(population_load.c.counted_at).where(
                population_load.c.seed == register.seed, population_load.c.today == register.today
            )
        )
    ).one_or_none()
    if found is None:
        return "absent"
    return "loaded" if found.counted_at is None else "counted"


class _Counted:
    """Counts the rows COPY takes, as it streams them (the register is never held whole)."""

    def __init__(self, rows: Iterator[PersonRow]) -> None:
        self.rows = rows
        self.n = 0

    def __iter__(self) -> Iterator[PersonRow]:
        for row in self.rows:
            self.n += 1
            yield row
