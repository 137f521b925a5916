"""What the inventory's use cases need from the running service, handed to them by the
routes; and the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_contracts.roles import Principal
from vaccinera_inventory.domain import local_day
from vaccinera_kit.database import Database
from vaccinera_kit.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True)
class Context:
    unit_of_work: UnitOfWorkFactory
    db: Database

    def read(self) -> AsyncConnection:
        """A connection for reads: ``async with ctx.read() as conn``."""
        return self.db.connect()


def now() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    """The region's day: a batch is usable through its expiry day."""
    return local_day(now())


def actor(principal: Principal) -> str:
    """Who did it, as the stock's history names them: the HSA-id."""
    return principal.hsa_id or principal.subject


def care_provider(principal: Principal) -> str:
    active = principal.active_assignment
    if active is None:  # the matrix admits only staff acting in an assignment here
        raise RuntimeError("a stock change needs an active assignment")
    return active.care_provider_id
