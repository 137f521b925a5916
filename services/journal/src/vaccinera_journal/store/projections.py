"""What the journal keeps from other services' events: a patient's identifier, blocks and
consents (identity), and health declarations (booking). Kept, not asked for: a read of the
journal makes no call to another service (JR-8)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_contracts.events import (
    Block,
    Consent,
    DeclarationAnswer,
    HealthDeclarationSubmitted,
)
from vaccinera_journal.domain import PatientAccess
from vaccinera_journal.tables import declarations, patients


@dataclass(frozen=True)
class PatientOnFile:
    patient_id: str
    identifier: str | None
    access: PatientAccess


@dataclass(frozen=True)
class Declaration:
    declaration_id: str
    unit_id: str
    booking_id: str | None
    submitted_at: datetime
    answers: tuple[DeclarationAnswer, ...]


class Patients:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, patient_id: str) -> PatientOnFile | None:
        row = (
            await self.conn.execute(select(patients).where(patients.c.patient_id == patient_id))
        ).first()
        if row is None:
            return None
        access = PatientAccess(
            blocks=tuple(Block.model_validate(b) for b in row.blocks),
            consents=tuple(Consent.model_validate(c) for c in row.consents),
        )
        return PatientOnFile(row.patient_id, row.identifier, access)

    async def identified(self, patient_id: str, identifier: str, kind: str) -> None:
        """Registered, or moved to a new identifier (ID-4): the journal shows the new one."""
        statement = insert(patients).values(
            patient_id=patient_id, identifier=identifier, identifier_kind=kind
        )
        await self.conn.execute(
            statement.on_conflict_do_update(
                index_elements=[patients.c.patient_id],
                set_={"identifier": identifier, "identifier_kind": kind},
            )
        )

    async def _set(self, patient_id: str, **values: Any) -> None:
        await self.conn.execute(
            insert(patients)
            .values(patient_id=patient_id, **values)
            .on_conflict_do_nothing(index_elements=[patients.c.patient_id])
        )
        await self.conn.execute(
            update(patients).where(patients.c.patient_id == patient_id).values(**values)
        )

    async def blocks(self, patient_id: str, blocks: tuple[Block, ...]) -> None:
        await self._set(patient_id, blocks=[b.model_dump(mode="json") for b in blocks])

    async def consents(self, patient_id: str, consents: tuple[Consent, ...]) -> None:
        await self._set(patient_id, consents=[c.model_dump(mode="json") for c in consents])


def _declaration(row: Any) -> Declaration:
    return Declaration(
        declaration_id=row.declaration_id,
        unit_id=row.unit_id,
        booking_id=row.booking_id,
        submitted_at=row.submitted_at,
        answers=tuple(DeclarationAnswer.model_validate(a) for a in row.answers),
    )


class Declarations:
    # A declaration through the unit's link (BK-12) is the basis of a dose given within this
    # time at that unit; a visit's own is found by its booking.
    RECENT = timedelta(days=14)

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def submitted(self, event: HealthDeclarationSubmitted, at: datetime) -> None:
        await self.conn.execute(
            insert(declarations)
            .values(
                declaration_id=event.declaration_id,
                patient_id=event.patient_id,
                unit_id=event.unit_id,
                booking_id=event.booking_id,
                submitted_at=event.submitted_at or at,
                answers=[a.model_dump(mode="json") for a in event.answers],
            )
            .on_conflict_do_nothing(index_elements=[declarations.c.declaration_id])
        )

    async def for_dose(
        self, patient_id: str, unit_id: str, booking_id: str | None, now: datetime
    ) -> str | None:
        """The declaration a dose is given on (JR-6): the visit's, else the patient's latest
        at the unit of recent days."""
        if booking_id is not None:
            found = await self.conn.scalar(
                select(declarations.c.declaration_id)
                .where(
                    declarations.c.booking_id == booking_id,
                    declarations.c.patient_id == patient_id,
                )
                .order_by(declarations.c.submitted_at.desc())
                .limit(1)
            )
            if found is not None:
                return str(found)
        latest = await self.conn.scalar(
            select(declarations.c.declaration_id)
            .where(
                declarations.c.patient_id == patient_id,
                declarations.c.unit_id == unit_id,
                declarations.c.submitted_at >= now - self.RECENT,
            )
            .order_by(declarations.c.submitted_at.desc())
            .limit(1)
        )
        return None if latest is None else str(latest)

    async def many(self, declaration_ids: list[str]) -> dict[str, Declaration]:
        if not declaration_ids:
            return {}
        rows = await self.conn.execute(
            select(declarations).where(declarations.c.declaration_id.in_(declaration_ids))
        )
        return {r.declaration_id: _declaration(r) for r in rows}
