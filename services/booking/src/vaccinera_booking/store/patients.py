"""Booking's projection of identity's patients: identifier and protection, nothing else."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_booking.domain import Patient
from vaccinera_booking.store.queries import patient_by_identifier_query
from vaccinera_booking.tables import patients
from vaccinera_contracts.identifiers import IdentifierKind


def _patient(row: Any) -> Patient:
    return Patient(
        row.patient_id, IdentifierKind(row.identifier_kind), row.identifier_value, row.protected
    )


class Patients:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, patient_id: str) -> Patient | None:
        row = (
            await self.conn.execute(select(patients).where(patients.c.patient_id == patient_id))
        ).first()
        return _patient(row) if row else None

    async def by_identifier(self, value: str) -> Patient | None:
        row = (await self.conn.execute(patient_by_identifier_query(value))).first()
        return _patient(row) if row else None

    async def record(self, patient: Patient) -> None:
        """The whole patient as identity registered it: insert, or overwrite what was learnt."""
        fields = _fields(patient)
        await self.conn.execute(
            insert(patients)
            .values(patient_id=patient.patient_id, **fields)
            .on_conflict_do_update(
                index_elements=[patients.c.patient_id], set_={**fields, "updated_at": func.now()}
            )
        )

    async def learn(self, patient: Patient) -> None:
        """A patient learnt from identity directly, before its event came: the events, applied
        in order, stay the authority, so an existing row is left alone."""
        await self.conn.execute(
            insert(patients)
            .values(patient_id=patient.patient_id, **_fields(patient))
            .on_conflict_do_nothing(index_elements=[patients.c.patient_id])
        )

    async def change(self, patient_id: str, **fields: Any) -> None:
        """Part of a patient changed. A patient booking has not seen yet is not invented from
        half of it: the first request that needs them asks identity for the whole."""
        await self.conn.execute(
            update(patients)
            .where(patients.c.patient_id == patient_id)
            .values(**fields, updated_at=func.now())
        )


def _fields(patient: Patient) -> dict[str, Any]:
    return {
        "identifier_kind": patient.identifier_kind.value,
        "identifier_value": patient.identifier_value,
        "protected": patient.protected,
    }
