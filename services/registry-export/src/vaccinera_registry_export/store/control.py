"""Doses entered by hand, for the control report (RX-3): kept, never reported."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_contracts.events import HistoricalDoseRecorded
from vaccinera_registry_export.tables import historical_doses


class ControlReport:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def recorded(self, event: HistoricalDoseRecorded) -> None:
        await self.conn.execute(
            insert(historical_doses)
            .values(
                historical_dose_id=event.historical_dose_id,
                patient_id=event.patient_id,
                vaccine_id=event.vaccine_id,
                vaccine_name=event.vaccine_name,
                dose_number=event.dose_number,
                given_on=event.given_on,
                country=event.country,
                comment=event.comment,
                unit_id=event.unit_id,
                care_provider_id=event.care_provider_id,
                recorded_at=event.recorded_at,
                recorded_by_hsa_id=event.recorded_by_hsa_id,
            )
            .on_conflict_do_nothing(index_elements=[historical_doses.c.historical_dose_id])
        )

    async def of_unit(self, unit_id: str, start: datetime, end: datetime) -> list[Any]:
        """The unit's entries recorded in [start, end), in the order they were made."""
        return list(
            await self.conn.execute(
                select(historical_doses)
                .where(
                    historical_doses.c.unit_id == unit_id,
                    historical_doses.c.recorded_at >= start,
                    historical_doses.c.recorded_at < end,
                )
                .order_by(historical_doses.c.recorded_at)
            )
        )
