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
from typing import Any

from fastapi import Request
from sqlalchemy import and_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_kit.database import IDEMPOTENCY_KEYS, Database, service_metadata
from vaccinera_kit.errors import Conflict, DomainError, ErrorDetail
from vaccinera_kit.unit_of_work import UnitOfWork

HEADER = "Idempotency-Key"
_keys = service_metadata().tables[IDEMPOTENCY_KEYS]


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


_SELECT = select(_keys.c.fingerprint, _keys.c.status_code, _keys.c.body)


class IdempotentCall:
    """One state-changing request and its optional key. In a route:

    call = IdempotentCall(request, owner=principal.subject, operation="book", payload=body)
    if (answer := await call.previous(db)) is not None:
        return answer                      # a retry: the first answer, nothing done again
    async with unit_of_work() as uow:
        if (answer := await call.claim(uow)) is not None:
            return answer                  # a twin request committed while we waited
        ... the change ...
        await call.remember(uow, body)     # commits with the change
    """

    def __init__(self, request: Request, *, owner: str, operation: str, payload: Any) -> None:
        self.key = request_key(request)
        self.owner = owner
        self.fingerprint = fingerprint(operation, payload)

    async def previous(self, source: Database | AsyncConnection) -> Any | None:
        """The first answer, for a retry. On a connection the caller holds already, the read
        costs no checkout of its own (a booking reads its time book on it anyway)."""
        if self.key is None:
            return None
        if isinstance(source, AsyncConnection):
            row = (await source.execute(self._where(_SELECT))).first()
        else:
            async with source.connect() as conn:
                row = (await conn.execute(self._where(_SELECT))).first()
        return _answer(row, self.fingerprint)

    async def claim(self, uow: UnitOfWork) -> Any | None:
        """Take the key in this unit of work. When a twin request holds it, this waits for the
        twin's transaction and returns its answer (None: the key is ours, go on)."""
        if self.key is None:
            return None
        taken = await uow.conn.scalar(
            insert(_keys)
            .values(owner=self.owner, key=self.key, fingerprint=self.fingerprint)
            .on_conflict_do_nothing()
            .returning(_keys.c.key)
        )
        if taken is not None:
            return None
        row = (await uow.conn.execute(self._where(_SELECT))).first()
        answer = _answer(row, self.fingerprint)
        if answer is None:
            raise Conflict(
                "A request with this Idempotency-Key is still being processed. Try again shortly.",
                code="idempotency_key_busy",
            )
        return answer

    async def remember(self, uow: UnitOfWork, body: Any, status_code: int = 200) -> None:
        if self.key is not None:
            await uow.conn.execute(
                self._where(update(_keys)).values(status_code=status_code, body=body)
            )

    def _where(self, statement: Any) -> Any:
        return statement.where(and_(_keys.c.owner == self.owner, _keys.c.key == self.key))


def _answer(row: Any, expected: str) -> Any | None:
    """The stored answer's body, or None when there is none (yet)."""
    if row is None or row.status_code is None:
        return None
    if row.fingerprint != expected:
        raise KeyReused(
            "This Idempotency-Key was used for a different request. Use a new key for a new "
            "request.",
            details=[ErrorDetail(field=HEADER, rule="reused", message="Already used.")],
        )
    return row.body
