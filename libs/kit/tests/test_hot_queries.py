"""The kit's hot statements use an index over large tables (issue 7 item 7): the relay's claim
and delete, and the consumer's processed-event claim, each over ≥100k rows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from vaccinera_devstack.explain import sequential_scans
from vaccinera_devstack.infra import Infrastructure
from vaccinera_kit import migrations
from vaccinera_kit.consumer import MARK_PROCESSED
from vaccinera_kit.database import Database, service_metadata
from vaccinera_kit.outbox import CLAIM, DELETE_PUBLISHED

pytestmark = pytest.mark.infra
ROWS = 100_000


@pytest.fixture(scope="module")
async def db(infra: Infrastructure) -> AsyncIterator[Database]:
    database = Database(infra.database_url(f"kit-hot-{uuid.uuid4().hex[:6]}"))
    await migrations.upgrade(database, None, service_metadata())
    async with database.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO outbox (event_id, type, topic, key, value, headers) "
                "SELECT gen_random_uuid(), 'x.Y', 'vaccinera.x.v1', 'k' || i, '{}', '{}' "
                "FROM generate_series(1, :n) AS i"
            ),
            {"n": ROWS},
        )
        await conn.execute(
            text(
                "INSERT INTO processed_events (consumer, event_id, type) "
                "SELECT 'svc', gen_random_uuid(), 'x.Y' FROM generate_series(1, :n)"
            ),
            {"n": ROWS},
        )
    async with database.engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()
    yield database
    await database.dispose()


async def test_relay_claim_reads_the_outbox_by_its_primary_key(db: Database) -> None:
    async with db.connect() as conn:
        assert await sequential_scans(conn, CLAIM, {"n": 500}) == []


async def test_relay_delete_of_a_published_batch_uses_the_primary_key(db: Database) -> None:
    async with db.connect() as conn:
        assert await sequential_scans(conn, DELETE_PUBLISHED, {"ids": list(range(1, 501))}) == []


async def test_consumer_dedup_check_uses_the_primary_key(db: Database) -> None:
    # A batch's claim: one statement for all of its event ids.
    ids = [uuid.uuid4() for _ in range(50)]
    params = {"consumer": "svc", "event_ids": ids, "types": ["x.Y"] * len(ids)}
    async with db.connect() as conn:
        assert await sequential_scans(conn, MARK_PROCESSED, params) == []
