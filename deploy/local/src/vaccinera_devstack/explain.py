"""Plan checks for tests: a hot query must reach its rows through an index, never by reading
a large table whole (issue 7: every hot query uses an index)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Executable, MetaData, text
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_devstack.infra import Infrastructure
from vaccinera_kit import migrations
from vaccinera_kit.database import Database


def plan_nodes(plan: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from plan_nodes(child)


async def explain(
    conn: AsyncConnection, statement: Executable, params: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The planner's plan of ``statement`` exactly as the application sends it: compiled by
    the asyncpg dialect, prepared on the driver, explained with these parameter values (not
    run, so explaining a write changes nothing)."""
    compiled = statement.compile(dialect=conn.dialect)  # type: ignore[attr-defined]
    values = {**compiled.params, **(params or {})}
    # The type's own conversion (e.g. JSONB → text), as SQLAlchemy applies it when executing.
    processors = compiled._bind_processors
    args = [
        processors[name](values[name]) if name in processors else values[name]
        for name in compiled.positiontup or ()
    ]
    raw = await conn.get_raw_connection()
    # Not asyncpg's PreparedStatement.explain(): it json.loads the plan, which SQLAlchemy's
    # json codec on the connection has already decoded (TypeError). Same query, same binding.
    document = await raw.driver_connection.fetchval(  # type: ignore[union-attr]
        f"EXPLAIN (FORMAT JSON) {compiled}", *args
    )
    if isinstance(document, str):
        document = json.loads(document)
    return dict(document[0]["Plan"])


def _literal(value: Any) -> str:
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    if isinstance(value, timedelta):
        return f"'{value.total_seconds()} seconds'"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


async def generic_plan(conn: AsyncConnection, statement: Executable) -> dict[str, Any]:
    """The plan a prepared statement gets once the server stops planning it for its values
    (asyncpg prepares every statement): a parameter it cannot see through, e.g. a status bound
    as $1, loses a partial index here although the plan for the values used it."""
    compiled = statement.compile(dialect=conn.dialect)  # type: ignore[attr-defined]
    args = [compiled.params[name] for name in compiled.positiontup or ()]
    raw = (await conn.get_raw_connection()).driver_connection
    assert raw is not None
    await raw.execute("SET plan_cache_mode = force_generic_plan")
    try:
        prepared = await raw.prepare(str(compiled))
        document = await raw.fetchval(
            f"EXPLAIN (FORMAT JSON) EXECUTE {prepared.get_name()}"
            f"({', '.join(_literal(a) for a in args)})"
        )
    finally:
        await raw.execute("RESET plan_cache_mode")
    parsed = json.loads(document) if isinstance(document, str) else document
    return dict(parsed[0]["Plan"])


async def sequential_scans(
    conn: AsyncConnection,
    statement: Executable,
    params: Mapping[str, Any] | None = None,
    *,
    generic: bool = False,
) -> list[str]:
    """Tables the plan reads whole ("Seq Scan"); an empty list means every read used an index.
    ``generic``: the prepared statement's generic plan instead of the one for these values."""
    plan = (
        await generic_plan(conn, statement) if generic else await explain(conn, statement, params)
    )
    return [
        str(node.get("Relation Name"))
        for node in plan_nodes(plan)
        if node.get("Node Type") == "Seq Scan"
    ]


@asynccontextmanager
async def filled_database(
    infra: Infrastructure,
    name: str,
    scripts: Path,
    metadata: MetaData,
    fill: Iterable[str],
    params: Mapping[str, Any],
    counted: Iterable[str],
) -> AsyncIterator[tuple[Database, dict[str, int]]]:
    """A migrated database of its own, filled by ``fill`` (SQL with ``params``), committed and
    vacuumed as autovacuum would leave it (statistics, visibility map), with the row counts
    of the ``counted`` tables; dropped afterwards (other tests dump every database)."""
    service = f"{name}-{uuid.uuid4().hex[:6]}"
    database = Database(infra.database_url(service))
    try:
        await migrations.upgrade(database, scripts, metadata)
        async with database.engine.begin() as conn:
            for statement in fill:
                await conn.execute(text(statement), dict(params))
        # Committed: statistics an aborted transaction gathered are thrown away with it.
        # VACUUM (outside a transaction) sets the visibility map: index-only scans skip tables.
        async with database.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
            sizes = {
                table: int(await conn.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
                for table in sorted(counted)
            }
        yield database, sizes
    finally:
        await database.dispose()
        await asyncio.to_thread(infra.postgres.drop_database, service)
