"""Alembic migrations per service, applied when the service starts.

Each service package has ``migrations/`` (``env.py`` calling ``run_env(metadata)`` and
``versions/``). ``upgrade`` runs in one transaction under a transaction-level advisory lock, so
two replicas starting at once migrate one after the other, and the second finds nothing to do;
PostgreSQL's DDL is transactional, so a failed migration leaves the old schema whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command, context, op
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Identity,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from vaccinera_kit.database import Database

MIGRATION_LOCK = 0x5641_4343_0002


def config(script_location: Path, connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


async def upgrade(db: Database, script_location: Path | None, metadata: MetaData) -> None:
    """Migrate to head; without scripts (a test service), create the tables as defined."""
    async with db.engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        if script_location is None:
            await conn.run_sync(metadata.create_all)
        else:
            await conn.run_sync(lambda sync: command.upgrade(config(script_location, sync), "head"))


async def differences(db: Database, metadata: MetaData) -> list[Any]:
    """What the live schema lacks or has beyond the table definitions (empty: they agree)."""

    def compare(sync: Connection) -> list[Any]:
        mc = MigrationContext.configure(sync, opts={"compare_type": True})
        return list(compare_metadata(mc, metadata))

    async with db.engine.connect() as conn:
        return await conn.run_sync(compare)


def run_env(metadata: MetaData) -> None:
    """The body of every service's ``migrations/env.py``."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "migrations run from the service (vaccinera_kit.migrations.upgrade), "
            "which hands Alembic its connection"
        )
    context.configure(connection=connection, target_metadata=metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def create_kit_tables_v1() -> None:
    """The kit's tables as first released: every service's first migration calls this, so
    the outbox and the processed-events table come with the service's own tables."""
    op.create_table(
        "outbox",
        Column("id", BigInteger, Identity(), nullable=False),
        Column("event_id", Uuid, nullable=False),
        Column("type", Text, nullable=False),
        Column("topic", Text, nullable=False),
        Column("key", Text, nullable=False),
        Column("value", Text, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        PrimaryKeyConstraint("id", name="pk_outbox"),
        UniqueConstraint("event_id", name="uq_outbox_event_id"),
    )
    op.create_table(
        "processed_events",
        Column("consumer", Text, nullable=False),
        Column("event_id", Uuid, nullable=False),
        Column("type", Text, nullable=False),
        Column("processed_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        PrimaryKeyConstraint("consumer", "event_id", name="pk_processed_events"),
    )
    op.create_table(
        "idempotency_keys",
        Column("owner", Text, nullable=False),
        Column("key", Text, nullable=False),
        Column("fingerprint", Text, nullable=False),
        Column("status_code", Integer, nullable=True),
        Column("body", JSONB, nullable=True),
        Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
        PrimaryKeyConstraint("owner", "key", name="pk_idempotency_keys"),
    )


def drop_kit_tables_v1() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("processed_events")
    op.drop_table("outbox")
