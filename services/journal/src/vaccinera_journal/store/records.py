"""Patients' records: load one whole (a patient has tens of entries, not thousands), and store
what a use case changed together with its events (transactional outbox).

Changes to one patient's record are serialized by a transaction-scoped advisory lock on the
patient: two nurses giving the patient's doses 1 and 2 at once, or an order and its void,
cannot both pass a rule only one of them may.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_journal.domain import Administration, HistoricalDose, Order, PatientRecord
from vaccinera_journal.tables import administrations, historical_doses, orders
from vaccinera_kit.unit_of_work import UnitOfWork

_ORDER_COLUMNS = [c.name for c in orders.columns]
_ADMINISTRATION_COLUMNS = [c.name for c in administrations.columns]
_HISTORY_COLUMNS = [c.name for c in historical_doses.columns]


def _fields(row: Any, names: list[str]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names}


async def load(conn: AsyncConnection, patient_id: str) -> PatientRecord:
    """The patient's whole record, oldest first."""
    order_rows = await conn.execute(
        select(orders).where(orders.c.patient_id == patient_id).order_by(orders.c.ordered_at)
    )
    given_rows = await conn.execute(
        select(administrations)
        .where(administrations.c.patient_id == patient_id)
        .order_by(administrations.c.administered_at)
    )
    history_rows = await conn.execute(
        select(historical_doses)
        .where(historical_doses.c.patient_id == patient_id)
        .order_by(historical_doses.c.given_on)
    )
    return PatientRecord(
        patient_id,
        orders=[Order(**_fields(r, _ORDER_COLUMNS)) for r in order_rows],
        administrations=[Administration(**_fields(r, _ADMINISTRATION_COLUMNS)) for r in given_rows],
        history=[HistoricalDose(**_fields(r, _HISTORY_COLUMNS)) for r in history_rows],
    )


class Records:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    async def get(self, patient_id: str) -> PatientRecord:
        """The record, locked for this unit of work."""
        await self.uow.conn.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended("journal:" + patient_id, 0)))
        )
        return await load(self.uow.conn, patient_id)

    async def save(self, record: PatientRecord) -> None:
        conn = self.uow.conn
        if record.new_orders:
            await conn.execute(
                orders.insert(),
                [{n: getattr(o, n) for n in _ORDER_COLUMNS} for o in record.new_orders],
            )
        for order in record.voided:
            await conn.execute(
                update(orders)
                .where(orders.c.order_id == order.order_id)
                .values(
                    status="voided",
                    voided_at=order.voided_at,
                    voided_by_hsa_id=order.voided_by_hsa_id,
                    void_reason=order.void_reason,
                )
            )
        for given in record.new_administrations:
            await conn.execute(
                update(orders)
                .where(orders.c.order_id == given.order_id)
                .values(status="administered")
            )
            await conn.execute(
                administrations.insert().values(
                    **{n: getattr(given, n) for n in _ADMINISTRATION_COLUMNS}
                )
            )
        for corrected in record.corrected:
            await conn.execute(
                update(administrations)
                .where(administrations.c.administration_id == corrected.administration_id)
                .values(
                    batch_id=corrected.batch_id,
                    batch_number=corrected.batch_number,
                    dose_number=corrected.dose_number,
                    revision=corrected.revision,
                    corrected_at=corrected.corrected_at,
                    corrected_by_hsa_id=corrected.corrected_by_hsa_id,
                    correction_reason=corrected.correction_reason,
                )
            )
        if record.new_history:
            await conn.execute(
                historical_doses.insert(),
                [{n: getattr(d, n) for n in _HISTORY_COLUMNS} for d in record.new_history],
            )
        self.uow.publish(*record.events)
        record.events.clear()
