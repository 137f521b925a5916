"""Every service's Alembic history takes an empty database to exactly its table definitions,
also when two replicas start at the same moment (issue 7: migrations applied at start)."""

from __future__ import annotations

import asyncio
import importlib
import uuid
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from vaccinera_devstack.infra import Infrastructure
from vaccinera_devstack.platform import SERVICE_MODULES
from vaccinera_kit import migrations
from vaccinera_kit.database import Database

pytestmark = pytest.mark.infra


@pytest.mark.parametrize("service", sorted(SERVICE_MODULES))
async def test_migrations_reach_the_table_definitions_with_two_replicas_starting_at_once(
    infra: Infrastructure, service: str
) -> None:
    tables = importlib.import_module(f"vaccinera_{service.replace('-', '_')}.tables")
    assert tables.__file__ is not None
    scripts = Path(tables.__file__).parent / "migrations"
    url = infra.database_url(f"mig-{service}-{uuid.uuid4().hex[:6]}")
    replicas = [Database(url), Database(url)]
    try:
        await asyncio.gather(*(migrations.upgrade(db, scripts, tables.metadata) for db in replicas))
        # A restart finds nothing to do.
        await migrations.upgrade(replicas[0], scripts, tables.metadata)
        assert await migrations.differences(replicas[0], tables.metadata) == []
        async with replicas[0].connect() as conn:
            applied = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        head = ScriptDirectory.from_config(migrations.config(scripts)).get_current_head()
        assert applied == head
    finally:
        for db in replicas:
            await db.dispose()
