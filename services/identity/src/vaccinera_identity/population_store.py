"""The synthetic population register in identity's database (ID-2).

``SyntheticRegister`` defines the population; ``load_population`` streams all of it into the
``population`` table with COPY at the first start, and ``DatabaseRegister`` answers lookups
from there through the primary key. The load is one transaction under an advisory lock and
ends by writing ``population_load``: replicas starting together load once, a crash mid-load
leaves nothing behind, and every later start costs one indexed read.

Nothing here logs a person: every value handled is personal data.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select, delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

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
    await load_population(service.db, SyntheticRegister())


async def load_population(db: Database, register: SyntheticRegister) -> int:
    """Load ``register`` unless the table already holds it; returns the persons loaded now
    (0 when there was nothing to do)."""
    async with db.connect() as conn:
        if await _holds(conn, register):
            return 0
    began = time.monotonic()
    async with db.engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOAD_LOCK})
        if await _holds(conn, register):  # another replica loaded it while we waited
            return 0
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
                seed=register.seed, today=register.today, persons=counted.n
            )
        )
        # Statistics now rather than at autovacuum's leisure, for the planner.
        await conn.execute(text("ANALYZE population"))
    log.info(
        "synthetic population register loaded: %d persons in %.1fs",
        counted.n,
        time.monotonic() - began,
    )
    return counted.n


async def _holds(conn: AsyncConnection, register: SyntheticRegister) -> bool:
    found = await conn.scalar(
        select(population_load.c.seed).where(
            population_load.c.seed == register.seed, population_load.c.today == register.today
        )
    )
    return found is not None


class _Counted:
    """Counts the rows COPY takes, as it streams them (the register is never held whole)."""

    def __init__(self, rows: Iterator[PersonRow]) -> None:
        self.rows = rows
        self.n = 0

    def __iter__(self) -> Iterator[PersonRow]:
        for row in self.rows:
            self.n += 1
            yield row
