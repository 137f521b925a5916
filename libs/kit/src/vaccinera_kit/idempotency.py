"""Idempotency keys: a client that retries a state change with the same ``Idempotency-Key``
gets the original answer back, never a second effect (issue 7 item 9).

The key is claimed inside the unit of work that makes the change and the answer is stored in the
same transaction, so "changed" and "remembered" commit together. Two requests racing with one
key: the second one's claim waits on the first's row lock, finds the key taken once the first
commits, and replays its answer. A request that fails (rolls back) leaves no key behind, so its
retry is tried afresh.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy import and_, select, update
from sqlalchemy.dialects.postgresql import insert

from vaccinera_kit.database import IDEMPOTENCY_KEYS, Database, service_metadata
from vaccinera_kit.errors import Conflict, DomainError, ErrorDetail
from vaccinera_kit.unit_of_work import UnitOfWork, UnitOfWorkFactory

HEADER = "Idempotency-Key"
_keys = service_metadata().tables[IDEMPOTENCY_KEYS]


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: Any


class KeyReused(DomainError):
    status = 422
    code = "idempotency_key_reused"


def request_key(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    key = key.strip()
    if not 1 <= len(key) <= 200:
        raise DomainError(
            "The Idempotency-Key header must be 1 to 200 characters.",
            code="invalid_idempotency_key",
            details=[ErrorDetail(field=HEADER, rule="length", message="1 to 200 characters.")],
        )
    return key


def fingerprint(operation: str, *parts: Any) -> str:
    """What the request asked for: the same key with another request is a client error."""
    raw = json.dumps([operation, *parts], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


async def stored(db: Database, owner: str, key: str, fingerprint: str) -> StoredAnswer | None:
    """The answer given to this key before, if any."""
    async with db.connect() as conn:
        row = (
            await conn.execute(
                select(_keys.c.fingerprint, _keys.c.status_code, _keys.c.body).where(
                    and_(_keys.c.owner == owner, _keys.c.key == key)
                )
            )
        ).first()
    return _answer(row, fingerprint)


async def claim(uow: UnitOfWork, owner: str, key: str, fingerprint: str) -> bool:
    """Take the key for this unit of work; False when another request holds it (committed)."""
    taken = await uow.conn.scalar(
        insert(_keys)
        .values(owner=owner, key=key, fingerprint=fingerprint)
        .on_conflict_do_nothing()
        .returning(_keys.c.key)
    )
    return taken is not None


async def remember(uow: UnitOfWork, owner: str, key: str, status_code: int, body: Any) -> None:
    await uow.conn.execute(
        update(_keys)
        .where(and_(_keys.c.owner == owner, _keys.c.key == key))
        .values(status_code=status_code, body=body)
    )


async def once(
    unit_of_work: UnitOfWorkFactory,
    db: Database,
    *,
    owner: str,
    key: str | None,
    fingerprint: str,
    work: Callable[[UnitOfWork], Awaitable[tuple[int, Any]]],
) -> tuple[int, Any, bool]:
    """Run ``work`` (which returns status and JSON body) in one unit of work, at most once per
    key; returns (status, body, replayed). Without a key it simply runs."""
    if key is None:
        async with unit_of_work() as uow:
            status, body = await work(uow)
        return status, body, False
    for _ in range(3):
        previous = await stored(db, owner, key, fingerprint)
        if previous is not None:
            return previous.status_code, previous.body, True
        async with unit_of_work() as uow:
            if await claim(uow, owner, key, fingerprint):
                status, body = await work(uow)
                await remember(uow, owner, key, status, body)
                return status, body, False
        # Another request with this key committed while we waited: read its answer.
    raise Conflict(
        "A request with this Idempotency-Key is still being processed. Try again shortly.",
        code="idempotency_key_busy",
    )


def _answer(row: Any, expected: str) -> StoredAnswer | None:
    if row is None or row.status_code is None:
        return None
    if row.fingerprint != expected:
        raise KeyReused(
            "This Idempotency-Key was used for a different request. Use a new key for a new "
            "request.",
            details=[ErrorDetail(field=HEADER, rule="reused", message="Already used.")],
        )
    return StoredAnswer(row.status_code, row.body)
