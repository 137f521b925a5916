"""Health declarations and the units' questionnaires."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_booking.domain import (
    Declaration,
    Question,
    Questionnaire,
    default_questionnaire,
)
from vaccinera_booking.tables import declarations, questionnaires


def _declaration(row: Any) -> Declaration:
    return Declaration(
        row.declaration_id,
        row.patient_id,
        row.unit_id,
        row.booking_id,
        row.version,
        row.submitted_at,
        row.answers,
        tuple(Question(**q) for q in row.questions),
    )


class Declarations:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, declaration: Declaration) -> None:
        row = asdict(declaration)
        row["questions"] = [asdict(q) for q in declaration.questions]
        await self.conn.execute(declarations.insert().values(row))

    async def for_booking(self, booking_id: str) -> Declaration | None:
        row = (
            await self.conn.execute(
                select(declarations).where(declarations.c.booking_id == booking_id)
            )
        ).first()
        return _declaration(row) if row else None

    async def questionnaire(self, unit_id: str) -> Questionnaire:
        """The unit's current questions; the default ones (version 0) until it writes its own."""
        row = (
            await self.conn.execute(
                select(questionnaires.c.version, questionnaires.c.questions).where(
                    questionnaires.c.unit_id == unit_id
                )
            )
        ).first()
        if row is None:
            return default_questionnaire(unit_id)
        return Questionnaire(unit_id, row.version, tuple(Question(**q) for q in row.questions))

    async def set_questionnaire(
        self, unit_id: str, questions: tuple[Question, ...], by: str
    ) -> Questionnaire:
        """A new version of the unit's questions (the first is version 1)."""
        new = insert(questionnaires).values(
            unit_id=unit_id, version=1, questions=[asdict(q) for q in questions], changed_by=by
        )
        version = await self.conn.scalar(
            new.on_conflict_do_update(
                index_elements=[questionnaires.c.unit_id],
                set_={
                    "questions": new.excluded.questions,
                    "changed_by": new.excluded.changed_by,
                    "changed_at": func.now(),
                    "version": questionnaires.c.version + 1,
                },
            ).returning(questionnaires.c.version)
        )
        return Questionnaire(unit_id, int(version), questions)
