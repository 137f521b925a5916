"""Booking's projection of the journal's doses (BK-10): per patient and dose number, the first
day the next dose of the series may be given."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_booking.store.queries import next_dose_query
from vaccinera_booking.tables import next_doses


class NextDoses:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def record(self, patient_id: str, dose_number: int, next_dose_from: date | None) -> None:
        """A dose of the patient was given or entered as history. Of several for one dose
        number (one given here, one entered later) the latest day is kept: the rule then
        waits for the interval after each of them. The day only grows, so the events may
        arrive in any order and a redelivered one changes nothing."""
        row = next_doses.c
        statement = insert(next_doses).values(
            patient_id=patient_id, dose_number=dose_number, next_dose_from=next_dose_from
        )
        later = statement.excluded.next_dose_from
        await self.conn.execute(
            statement.on_conflict_do_update(
                index_elements=[row.patient_id, row.dose_number],
                set_={"next_dose_from": later, "updated_at": func.now()},
                where=later.is_not(None)
                & (row.next_dose_from.is_(None) | (later > row.next_dose_from)),
            )
        )

    async def next_dose_from(self, patient_id: str, dose_number: int) -> date | None:
        """The first day the dose after ``dose_number`` may be given; None when no such dose
        is recorded (or it named no day)."""
        day: date | None = await self.conn.scalar(next_dose_query(patient_id, dose_number))
        return day
