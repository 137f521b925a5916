"""Use cases that write a patient's record: order (JR-2) and void (JR-3), give a dose
(JR-4, IN-6, BK-10) alone or ordered in the same signed step, enter a dose given elsewhere
(JR-5, JR-9). Each is one transaction: the entry, the dose taken from the batch, the events
and the access log entry (ID-7) commit together or not at all."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import select

from vaccinera_contracts.access import Operation
from vaccinera_contracts.roles import Principal
from vaccinera_journal.domain import (
    Administration,
    HistoricalDose,
    Order,
    PatientRecord,
    Vaccine,
    local_day,
)
from vaccinera_journal.services import patients
from vaccinera_journal.services.context import Context, now, place
from vaccinera_journal.store import Batches, Catalogue, Declarations, Records
from vaccinera_journal.tables import administrations, orders
from vaccinera_kit.errors import Conflict, NotFound, invalid
from vaccinera_kit.idempotency import IdempotentCall
from vaccinera_kit.unit_of_work import UnitOfWork

# A use case answers with what it made; the route maps it. A replayed answer
# (Idempotency-Key) arrives as the JSON the first request answered with.
T = TypeVar("T")


@dataclass(frozen=True)
class Ordered:
    """Orders just placed or voided, with their vaccine."""

    vaccine: Vaccine
    orders: list[Order]


@dataclass(frozen=True)
class Recorded:
    """A dose given elsewhere just entered, with its vaccine."""

    vaccine: Vaccine
    dose: HistoricalDose


@dataclass(frozen=True)
class Given:
    """A dose just given, with what the answer shows of it."""

    administration: Administration
    vaccine: Vaccine
    orders: list[Order]


async def _in_record(
    ctx: Context,
    principal: Principal,
    op: Operation,
    patient_id: str,
    call: IdempotentCall | None,
    change: Callable[[UnitOfWork, PatientRecord], Awaitable[T]],
    out: Callable[[T], Any],
    status_code: int = 201,
) -> T | dict[str, Any]:
    """Run ``change`` on the patient's locked record in one unit of work, with its access log
    entry; a retried call (same Idempotency-Key) answers as the first."""
    if call is not None and (answer := await call.previous(ctx.db)) is not None:
        return dict(answer)
    await patients.on_file(ctx, principal, patient_id)
    async with ctx.unit_of_work() as uow:
        if call is not None and (answer := await call.claim(uow)) is not None:
            return dict(answer)
        records = Records(uow)
        record = await records.get(patient_id)
        result = await change(uow, record)
        await records.save(record)
        uow.publish(ctx.access.event(principal, op, patient_id))
        if call is not None:
            await call.remember(uow, out(result), status_code)
    return result


async def _vaccine(
    uow: UnitOfWork, record: PatientRecord, vaccine_id: str | None, dose: int
) -> Vaccine:
    """The vaccine asked for; for a later dose without one, the previous dose's (JR-2)."""
    chosen = vaccine_id or record.default_vaccine_id(dose)
    if chosen is None:
        raise invalid(
            "vaccine_id", "missing", "Choose a vaccine: there is no earlier dose to follow."
        )
    try:
        return await Catalogue(uow.conn).get(chosen)
    except NotFound as exc:
        raise invalid("vaccine_id", "unknown", f"No vaccine {chosen} in the catalogue.") from exc


async def order(
    ctx: Context,
    principal: Principal,
    op: Operation,
    patient_id: str,
    *,
    vaccine_id: str | None,
    dose_numbers: list[int],
    patient_group: str | None,
    replaces_order_id: str | None,
    call: IdempotentCall,
    out: Callable[[Ordered], Any],
) -> Ordered | dict[str, Any]:
    async def change(uow: UnitOfWork, record: PatientRecord) -> Ordered:
        first = min(dose_numbers)
        vaccine = await _vaccine(uow, record, vaccine_id, first)
        placed = record.place_orders(
            [str(uuid.uuid4()) for _ in dose_numbers],
            vaccine,
            dose_numbers,
            patient_group,
            place(principal),
            now(),
            replaces_order_id,
        )
        return Ordered(vaccine, placed)

    return await _in_record(ctx, principal, op, patient_id, call, change, out)


async def _patient_of_order(ctx: Context, order_id: str) -> str:
    async with ctx.read() as conn:
        patient_id = await conn.scalar(
            select(orders.c.patient_id).where(orders.c.order_id == order_id)
        )
    if patient_id is None:
        raise NotFound(f"No order {order_id}.", code="order_not_found")
    return str(patient_id)


async def void(
    ctx: Context,
    principal: Principal,
    op: Operation,
    order_id: str,
    reason: str,
    out: Callable[[Ordered], Any],
) -> Ordered:
    patient_id = await _patient_of_order(ctx, order_id)

    async def change(uow: UnitOfWork, record: PatientRecord) -> Ordered:
        voided = record.void(order_id, reason, place(principal), now())
        return Ordered(await Catalogue(uow.conn).get(voided.vaccine_id), [voided])

    result = await _in_record(ctx, principal, op, patient_id, None, change, out, 200)
    assert isinstance(result, Ordered)
    return result


async def _give(
    uow: UnitOfWork,
    record: PatientRecord,
    principal: Principal,
    order_id: str,
    batch_id: str,
    booking_id: str | None,
) -> Given:
    moment, where = now(), place(principal)
    the_order = record.open_order(order_id, where)  # whose order first, then which batch
    batch = await Batches(uow.conn).get(batch_id)
    if batch is None:
        raise invalid(
            "batch_id", "unknown", f"No batch {batch_id} in the stock: check it in first."
        )
    vaccines = await Catalogue(uow.conn).many(
        [the_order.vaccine_id, *(d.vaccine_id for d in record.given())]
    )
    declaration_id = await Declarations(uow.conn).for_dose(
        record.patient_id, where.unit_id, booking_id, moment
    )
    given = record.administer(
        str(uuid.uuid4()),
        order_id,
        batch,
        vaccines.__getitem__,
        where,
        moment,
        declaration_id,
    )
    # The dose itself, taken from the batch in this transaction: of nurses racing for the
    # batch's last dose, the others are refused here and their administration rolls back.
    if not await Batches(uow.conn).take_one(batch_id, local_day(moment)):
        raise Conflict(f"Batch {batch.batch_number} has no doses left.", code="batch_empty")
    return Given(given, vaccines[the_order.vaccine_id], [the_order])


async def administer(
    ctx: Context,
    principal: Principal,
    op: Operation,
    order_id: str,
    *,
    batch_id: str,
    booking_id: str | None,
    call: IdempotentCall,
    out: Callable[[Given], Any],
) -> Given | dict[str, Any]:
    patient_id = await _patient_of_order(ctx, order_id)

    async def change(uow: UnitOfWork, record: PatientRecord) -> Given:
        return await _give(uow, record, principal, order_id, batch_id, booking_id)

    return await _in_record(ctx, principal, op, patient_id, call, change, out)


async def order_and_administer(
    ctx: Context,
    principal: Principal,
    op: Operation,
    patient_id: str,
    *,
    vaccine_id: str | None,
    dose_number: int,
    patient_group: str | None,
    batch_id: str,
    booking_id: str | None,
    call: IdempotentCall,
    out: Callable[[Given], Any],
) -> Given | dict[str, Any]:
    """A nurse with prescribing rights orders and gives in one signed step ("Signera
    ordination och administrering", JR-4)."""

    async def change(uow: UnitOfWork, record: PatientRecord) -> Given:
        vaccine = await _vaccine(uow, record, vaccine_id, dose_number)
        (placed,) = record.place_orders(
            [str(uuid.uuid4())], vaccine, [dose_number], patient_group, place(principal), now()
        )
        given = await _give(uow, record, principal, placed.order_id, batch_id, booking_id)
        return Given(given.administration, given.vaccine, [placed])

    return await _in_record(ctx, principal, op, patient_id, call, change, out)


async def _patient_of_administration(ctx: Context, administration_id: str) -> str:
    async with ctx.read() as conn:
        patient_id = await conn.scalar(
            select(administrations.c.patient_id).where(
                administrations.c.administration_id == administration_id
            )
        )
    if patient_id is None:
        raise NotFound(f"No dose {administration_id}.", code="administration_not_found")
    return str(patient_id)


async def correct(
    ctx: Context,
    principal: Principal,
    op: Operation,
    administration_id: str,
    *,
    batch_id: str | None,
    dose_number: int | None,
    reason: str,
    out: Callable[[Given], Any],
) -> Given:
    """A given dose signed with the wrong batch or dose number, corrected (JR-4, RX-1): a dose
    moved to another batch is taken from it and given back to the first, in this
    transaction, as when it was given."""
    patient_id = await _patient_of_administration(ctx, administration_id)

    async def change(uow: UnitOfWork, record: PatientRecord) -> Given:
        moment, where = now(), place(principal)
        batch = None
        if batch_id is not None:
            batch = await Batches(uow.conn).get(batch_id)
            if batch is None:
                raise invalid("batch_id", "unknown", f"No batch {batch_id} in the stock.")
        vaccines = await Catalogue(uow.conn).many(d.vaccine_id for d in record.given())
        before = next(
            (a for a in record.administrations if a.administration_id == administration_id),
            None,
        )
        corrected = record.correct(
            administration_id, batch, dose_number, reason, vaccines.__getitem__, where, moment
        )
        if before is not None and corrected.batch_id != before.batch_id:
            if not await Batches(uow.conn).take_one(corrected.batch_id, local_day(moment)):
                raise Conflict(
                    f"Batch {corrected.batch_number} has no doses left.", code="batch_empty"
                )
            await Batches(uow.conn).give_back(before.batch_id)
        the_order = record.order(corrected.order_id)
        return Given(corrected, vaccines[corrected.vaccine_id], [the_order])

    result = await _in_record(ctx, principal, op, patient_id, None, change, out, 200)
    assert isinstance(result, Given)
    return result


async def record_history(
    ctx: Context,
    principal: Principal,
    op: Operation,
    patient_id: str,
    *,
    vaccine_id: str,
    dose_number: int,
    given_on: date,
    country: str | None,
    comment: str,
    call: IdempotentCall,
    out: Callable[[Recorded], Any],
) -> Recorded | dict[str, Any]:
    async def change(uow: UnitOfWork, record: PatientRecord) -> Recorded:
        vaccine = await _vaccine(uow, record, vaccine_id, dose_number)
        dose = record.record_history(
            str(uuid.uuid4()),
            vaccine,
            dose_number,
            given_on,
            country,
            comment,
            place(principal),
            now(),
        )
        return Recorded(vaccine, dose)

    return await _in_record(ctx, principal, op, patient_id, call, change, out)
