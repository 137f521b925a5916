"""PostgreSQL wiring: one database per service, reached through SQLAlchemy Core on asyncpg.

Every service describes its tables on a ``MetaData`` made by ``service_metadata()``, which
already holds the kit's own tables (the outbox and the consumer's processed events), so one
Alembic history per service creates both. This module knows the tables, not what uses them:
the outbox, the consumer and the idempotency keys import it, never the other way round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

log = logging.getLogger("vaccinera.database")

# Names for constraints and indexes, so migrations and the tables always agree on them.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

OUTBOX = "outbox"
PROCESSED_EVENTS = "processed_events"
IDEMPOTENCY_KEYS = "idempotency_keys"


def service_metadata() -> MetaData:
    """A service's metadata with the kit's tables in it."""
    metadata = MetaData(naming_convention=NAMING)
    Table(
        OUTBOX,
        metadata,
        # The relay claims in id order: the primary key index serves "ORDER BY id LIMIT n".
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("type", Text, nullable=False),
        Column("topic", Text, nullable=False),
        Column("key", Text, nullable=False),
        Column("value", Text, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    Table(
        PROCESSED_EVENTS,
        metadata,
        Column("consumer", Text, nullable=False),
        Column("event_id", Uuid, nullable=False),
        Column("type", Text, nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("consumer", "event_id"),
    )
    Table(
        IDEMPOTENCY_KEYS,
        metadata,
        # Whose key: a client's keys never collide with another's.
        Column("owner", Text, nullable=False),
        Column("key", Text, nullable=False),
        Column("fingerprint", Text, nullable=False),
        Column("status_code", Integer, nullable=True),
        Column("body", JSONB, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("owner", "key"),
    )
    return metadata


def async_url(url: str) -> str:
    """``postgresql://…`` as configured → the asyncpg dialect SQLAlchemy needs."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("the database URL must start with postgresql://")


def plain_url(url: str) -> str:
    """The URL as asyncpg itself takes it (for LISTEN on a connection of its own)."""
    return "postgresql://" + async_url(url)[len("postgresql+asyncpg://") :]


class Database:
    """The service's connection pool. Units of work borrow a connection per transaction."""

    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 10) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            async_url(url),
            pool_size=pool_size,
            max_overflow=max_overflow,
            # No ping per checkout (it costs three round trips per transaction, measured: 40 %
            # of a registration). A connection the server dropped fails its first statement,
            # SQLAlchemy then discards the whole pool, and the request is retried by the client.
            pool_pre_ping=False,
            pool_recycle=1800,
            # Errors (and their logged tracebacks) must not carry the statement's values:
            # names, identifiers, phone numbers and addresses are bound parameters.
            hide_parameters=True,
            # A request waits at most this long for a connection; admission control keeps
            # the queue short, so a long wait means the database is in trouble.
            pool_timeout=10,
            connect_args={
                # Fail fast when the server is down, so /ready answers quickly.
                "timeout": 5,
                "server_settings": {"application_name": "vaccinera", "timezone": "UTC"},
            },
        )

        # Reads run without a transaction (each statement sees what was committed when it
        # began): no BEGIN and ROLLBACK round trips around a request's reads. Same pool.
        self.reader: AsyncEngine = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    async def ping(self) -> bool:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    def connect(self) -> AsyncConnection:
        """A connection for reads (``async with db.connect() as conn``), without a
        transaction: write in a unit of work."""
        return self.reader.connect()

    async def dispose(self) -> None:
        await self.engine.dispose()


async def listen(db: Database, channel: str, wake: Callable[[], None]) -> None:
    """Call ``wake`` on every NOTIFY on ``channel``, on a connection of its own (LISTEN holds
    it), reconnecting when it is lost. A (re)connect also wakes: a notification may have been
    missed meanwhile. Runs until cancelled."""
    while True:
        conn: asyncpg.Connection | None = None
        try:
            lost = asyncio.Event()
            conn = await asyncpg.connect(plain_url(db.url), timeout=5)
            conn.add_termination_listener(lambda *_, lost=lost: lost.set())
            await conn.add_listener(channel, lambda *_: wake())
            wake()
            await lost.wait()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("listener on %s: %s, reconnecting", channel, type(exc).__name__)
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(conn.close(timeout=2))
        await asyncio.sleep(1)


def is_unique_violation(exc: BaseException, constraint: str | None = None) -> bool:
    """A unique index or exclusion constraint said no (optionally: this one)."""
    if not isinstance(exc, IntegrityError | DBAPIError):
        return False
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(
        getattr(orig, "__cause__", None), "sqlstate", None
    )
    if sqlstate not in ("23505", "23P01"):
        return False
    if constraint is None:
        return True
    cause = getattr(orig, "__cause__", None)
    name = getattr(cause, "constraint_name", None) or getattr(orig, "constraint_name", None)
    return name == constraint or constraint in str(exc)


__all__ = [
    "IDEMPOTENCY_KEYS",
    "OUTBOX",
    "PROCESSED_EVENTS",
    "AsyncConnection",
    "Database",
    "is_unique_violation",
    "listen",
    "service_metadata",
]
