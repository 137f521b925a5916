"""What the journal's use cases need from the running service, handed to them by the routes;
the clock; and who acts where."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_contracts.roles import Principal
from vaccinera_journal.domain import Place, Reader
from vaccinera_kit.access_log import AccessLog
from vaccinera_kit.database import Database
from vaccinera_kit.identity_client import IdentityClient
from vaccinera_kit.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True)
class Context:
    unit_of_work: UnitOfWorkFactory
    db: Database
    access: AccessLog
    identity: IdentityClient

    def read(self) -> AsyncConnection:
        """A connection for reads: ``async with ctx.read() as conn``."""
        return self.db.connect()


def now() -> datetime:
    return datetime.now(UTC)


def place(principal: Principal) -> Place:
    """Where staff act, and who signs: the active assignment and the HSA-id (JR-2, JR-4)."""
    active = principal.active_assignment
    if active is None:  # the matrix admits only staff acting in an assignment here
        raise RuntimeError("a journal entry needs an active assignment")
    return Place(active.unit_id, active.care_provider_id, principal.hsa_id or principal.subject)


def reader(principal: Principal) -> Reader | None:
    """Staff read as their active assignment; None for the patient, who sees all their own."""
    active = principal.active_assignment
    if principal.kind != "staff" or active is None:
        return None
    return Reader(active.unit_id, active.care_provider_id)
