"""What booking's use cases need from the running service, handed to them by the routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_booking.domain.bookings import CodeSealer
from vaccinera_booking.identity import Identity
from vaccinera_booking.settings import Settings
from vaccinera_kit.access_log import AccessLog
from vaccinera_kit.database import Database
from vaccinera_kit.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True)
class Context:
    unit_of_work: UnitOfWorkFactory
    db: Database
    access: AccessLog
    identity: Identity
    settings: Settings
    # Seals each new manage code to notifications' public key (issue 9).
    sealer: CodeSealer

    def read(self) -> AsyncConnection:
        """A connection for reads: ``async with ctx.read() as conn``."""
        return self.db.connect()


def now() -> datetime:
    return datetime.now(UTC)
