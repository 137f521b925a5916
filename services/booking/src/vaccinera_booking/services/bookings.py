"""Use cases of a booking (BK-2..BK-6, BK-10, BK-11): book, see, rebook, cancel, manage with
the SMS code, register arrival, cancel many at once. A dose N ≥ 2 is booked and rebooked no
earlier than the interval after the patient's dose N−1 allows (BK-10).

Each change is one unit of work: the booking, its declaration, its events and the access record
commit together. A retry with the same Idempotency-Key gets the first answer back
(``IdempotentCall``), never a second booking.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from vaccinera_booking import domain
from vaccinera_booking.domain import Booking, Declaration, Patient, Slot, TimeBook, VisitType
from vaccinera_booking.domain.bookings import CodeSealer
from vaccinera_booking.services import time_books
from vaccinera_booking.services.context import Context, now
from vaccinera_booking.services.patients import known_patient, patient_to_book, projected
from vaccinera_booking.store import (
    Bookings,
    Declarations,
    ManageAttempts,
    NextDoses,
    Patients,
    Slots,
    StaleBooking,
    TimeBooks,
)
from vaccinera_contracts.access import Operation, Ops
from vaccinera_contracts.events import AccessRecorded
from vaccinera_contracts.roles import Principal
from vaccinera_kit.auth import ensure_unit
from vaccinera_kit.errors import DomainError, NotFound
from vaccinera_kit.idempotency import IdempotentCall
from vaccinera_kit.unit_of_work import UnitOfWork

# A use case answers with the booking; the route maps it. A replayed answer (Idempotency-Key)
# arrives as the JSON the first request answered with.
Answer = Booking | dict[str, Any]
ToJson = Callable[[Booking], dict[str, Any]]


@dataclass(frozen=True)
class BookRequest:
    time_book_id: str
    visit_type_id: str
    start: datetime
    patient_id: str | None
    # (version, answers) of the health declaration, when one is given.
    declaration: tuple[int, dict[str, Any]] | None


def _actor(principal: Principal | None) -> domain.Actor:
    return "staff" if principal is not None and principal.kind == "staff" else "citizen"


async def book(
    ctx: Context, principal: Principal, request: BookRequest, call: IdempotentCall, out: ToJson
) -> Answer:
    """Book a time: the first free column at that time is taken; a lost race gets 409 with the
    next free times (BK-4). Citizens answer the health declaration in the same request (BK-2)."""
    async with ctx.read() as conn:
        if (answer := await call.previous(conn)) is not None:
            return dict(answer)
        book_ = await TimeBooks(conn).get(request.time_book_id)
        if book_ is None:
            raise NotFound(f"No time book {request.time_book_id}.")
        ensure_unit(principal, book_.unit_id)
        visit_type = book_.visit_type(request.visit_type_id)
        questionnaire = await Declarations(conn).questionnaire(book_.unit_id)
        found = await projected(conn, principal, request.patient_id)
    start = domain.aware(request.start, "start")
    # Outside the read: a patient booking has not seen yet is asked of identity.
    patient = await patient_to_book(ctx, principal, request.patient_id, found)
    if principal.kind == "citizen" and request.declaration is None:
        raise domain.invalid(
            "health_declaration", "required", "Answer the health declaration when you book."
        )
    booking_id = str(uuid.uuid4())
    declaration = (
        None
        if request.declaration is None
        else Declaration.answer(
            declaration_id=str(uuid.uuid4()),
            patient_id=patient.patient_id,
            questionnaire=questionnaire,
            version=request.declaration[0],
            answers=request.declaration[1],
            booking_id=booking_id,
            now=now(),
        )
    )
    async with ctx.unit_of_work() as uow:
        if (answer := await call.claim(uow)) is not None:
            return dict(answer)
        visit_type, free = await _free_slots(uow, book_, visit_type, start)
        await _ensure_dose_interval(uow, patient.patient_id, visit_type, start)
        booked = await _take_first(
            uow, booking_id, patient, book_, visit_type, free, principal, ctx.sealer
        )
        if booked is not None:
            uow.publish(ctx.access.event(principal, Ops.BOOK, patient.patient_id))
            if declaration is not None:
                await Declarations(uow.conn).add(declaration)
                uow.publish(declaration.submitted())
            await call.remember(uow, out(booked), 201)
            return booked
        uow.rollback_only()  # every column taken: nothing is kept, the key neither
    raise await taken(ctx, book_.time_book_id, visit_type, start)


async def _free_slots(
    uow: UnitOfWork, book_: TimeBook, visit_type: VisitType, start: datetime
) -> tuple[VisitType, list[Slot]]:
    """The free slots at ``start`` for the visit type, column 1 first, under the visit type's
    shared lock, and the visit type as it is now (a delete may have just committed, BK-7)."""
    await TimeBooks(uow.conn).lock_visit_type(visit_type.visit_type_id)
    candidates, deleted = await Slots(uow.conn).candidates(
        book_.time_book_id,
        visit_type.resource,
        start,
        book_.columns(visit_type.resource),
        visit_type.visit_type_id,
    )
    if deleted and not visit_type.deleted:
        visit_type = VisitType(**{**vars(visit_type), "deleted": True})
    return visit_type, domain.free_slots(visit_type, candidates, start, now())


async def _ensure_dose_interval(
    uow: UnitOfWork, patient_id: str, visit_type: VisitType, start: datetime
) -> None:
    """A dose N ≥ 2 waits for the interval after the patient's dose N−1 (BK-10): read in the
    booking's transaction, so a dose the journal recorded before it commits counts."""
    previous = domain.previous_dose(visit_type)
    if previous is None:
        return
    next_from = await NextDoses(uow.conn).next_dose_from(patient_id, previous)
    domain.ensure_dose_interval(visit_type, start, next_from)


async def _take_first(
    uow: UnitOfWork,
    booking_id: str,
    patient: Patient,
    book_: TimeBook,
    visit_type: VisitType,
    free: list[Slot],
    principal: Principal,
    sealer: CodeSealer,
) -> Booking | None:
    """Try the free slots in column order; None when others took every one meanwhile."""
    bookings = Bookings(uow)
    for slot in free:
        booking = Booking.book(
            booking_id=booking_id,
            patient=patient,
            time_book=book_,
            visit_type=visit_type,
            slot=slot,
            booked_by=_actor(principal),
            now=now(),
            sealer=sealer,
        )
        if await bookings.add(booking):
            return booking
    return None


# Losers of a rush all ask for the next free times at once; they share one short-lived answer
# (computed once, awaited by the others) instead of each querying the time book. It is a hint:
# the next try may lose too.
_NEXT_FREE: dict[tuple[str, str, datetime], tuple[float, asyncio.Future[list[datetime]]]] = {}
_NEXT_FREE_SECONDS = 1.0


async def taken(
    ctx: Context, time_book_id: str, visit_type: VisitType, start: datetime
) -> domain.BookingTaken:
    """Every column was taken (BK-4): the answer names the next free times."""
    key = (time_book_id, visit_type.visit_type_id, start)
    cached = _NEXT_FREE.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return domain.time_taken(await asyncio.shield(cached[1]))
    if len(_NEXT_FREE) > 10_000:
        _NEXT_FREE.clear()
    future: asyncio.Future[list[datetime]] = asyncio.get_running_loop().create_future()
    _NEXT_FREE[key] = (time.monotonic() + _NEXT_FREE_SECONDS, future)
    try:
        later = await time_books.free(
            ctx,
            time_book_id,
            visit_type,
            start,
            start + timedelta(days=ctx.settings.next_free_days),
            5,
        )
    except Exception as exc:
        _NEXT_FREE.pop(key, None)
        future.set_exception(exc)
        future.exception()  # retrieved: the waiters, if any, raise it themselves
        raise
    future.set_result([t.start for t in later])
    return domain.time_taken(future.result())


async def booking(ctx: Context, principal: Principal, booking_id: str) -> Booking:
    """A booking the caller may see: staff at its unit (AC-5), a citizen their own."""
    async with ctx.read() as conn:
        found = await Bookings(conn).get(booking_id)
        if found is None:
            raise NotFound(f"No booking {booking_id}.")
        ensure_unit(principal, found.unit_id)
        if principal.kind == "citizen":
            domain.ensure_own_patient(principal, await Patients(conn).get(found.patient_id))
    return found


async def see(ctx: Context, principal: Principal, booking_id: str) -> Booking:
    found = await booking(ctx, principal, booking_id)
    await ctx.access.record(principal, Ops.GET_BOOKING, found.patient_id)
    return found


async def of_patient(ctx: Context, principal: Principal, patient_id: str) -> list[Booking]:
    """Staff see the bookings at the unit they act for (AC-5); a citizen sees all their own."""
    if principal.kind == "citizen":
        domain.ensure_own_patient(principal, await known_patient(ctx, patient_id))
        unit = None
    else:
        assert principal.active_assignment is not None
        unit = principal.active_assignment.unit_id
    async with ctx.read() as conn:
        found = await Bookings(conn).for_patient(patient_id, unit)
    await ctx.access.record(principal, Ops.PATIENT_BOOKINGS, patient_id)
    return found


async def rebook(
    ctx: Context,
    principal: Principal | None,
    current: Booking,
    start: datetime,
    time_book_id: str | None,
    call: IdempotentCall | None,
    out: ToJson,
    op: Operation,
) -> Answer:
    """Move a booking to another time, in its time book or another of the unit's (BK-5)."""
    if not current.active:
        raise domain.not_active("Only an active booking can be rebooked.")
    async with ctx.read() as conn:
        book_ = await TimeBooks(conn).get(time_book_id or current.time_book_id)
    if book_ is None or book_.unit_id != current.unit_id:
        raise domain.invalid("time_book_id", "unknown", "Rebook within the same unit's time books.")
    visit_type = book_.visit_type_for_move(
        current.time_book_id, current.visit_type_id, current.visit_type_name
    )
    start = domain.aware(start, "start")
    async with ctx.unit_of_work() as uow:
        if call is not None and (answer := await call.claim(uow)) is not None:
            return dict(answer)
        visit_type, free = await _free_slots(uow, book_, visit_type, start)
        await _ensure_dose_interval(uow, current.patient_id, visit_type, start)
        bookings = Bookings(uow)
        for slot in (s for s in free if s.slot_id != current.slot_id):
            moved = current.move_to(book_, visit_type, slot, _actor(principal), now())
            if await bookings.move(current, moved):
                uow.publish(_access(ctx, principal, op, current))
                if call is not None:
                    await call.remember(uow, out(moved))
                return moved
        uow.rollback_only()  # every column taken: nothing changes, the key is not kept
    raise await taken(ctx, book_.time_book_id, visit_type, start)


async def cancel(
    ctx: Context,
    principal: Principal | None,
    current: Booking,
    call: IdempotentCall | None,
    out: ToJson,
    op: Operation,
) -> Answer:
    """Cancel a booking (BK-5): its slot is free for someone else at once."""
    async with ctx.read() as conn:
        book_ = await TimeBooks(conn).get(current.time_book_id)
    assert book_ is not None
    try:
        async with ctx.unit_of_work() as uow:
            if call is not None and (answer := await call.claim(uow)) is not None:
                return dict(answer)
            current.cancel(book_, _actor(principal), now())
            await Bookings(uow).save(current)
            uow.publish(_access(ctx, principal, op, current))
            if call is not None:
                await call.remember(uow, out(current))
    except StaleBooking as exc:
        raise domain.not_active("The booking was already cancelled or changed.") from exc
    return current


def _access(
    ctx: Context, principal: Principal | None, op: Operation, booking: Booking
) -> AccessRecorded:
    """The access record of a change (ID-7): by the caller, or, without a login, by the patient
    with the booking's reference and SMS code."""
    if principal is None:
        return ctx.access.by_code(op, booking.patient_id, booking.reference)
    return ctx.access.event(principal, op, booking.patient_id)


async def by_code(ctx: Context, reference: str, code: str, client: str | None) -> Booking:
    """A patient without BankID (reserve number) manages the booking with the reference and
    code from the confirmation SMS (BK-2). Attempts are limited per client address and per
    reference (429), and wrong codes lock the booking until staff send a new code (403):
    counted in one unit of work with the booking's row locked, so replicas and concurrent
    guesses share one count. The verdict is raised after the counts commit."""
    reference = domain.normal_reference(reference)
    async with ctx.unit_of_work() as uow:
        verdict = await _try_code(uow, ctx.settings.manage_limits, reference, code, client)
    if isinstance(verdict, DomainError):
        raise verdict
    if not verdict.active:
        raise domain.not_active("The booking is already cancelled.")
    return verdict


async def _try_code(
    uow: UnitOfWork,
    limits: domain.AttemptLimits,
    reference: str,
    code: str,
    client: str | None,
) -> Booking | DomainError:
    at = now()
    window = domain.window(at, limits)
    attempts = ManageAttempts(uow.conn)
    await attempts.prune(window.start)
    try:
        # The client first: attempts it makes beyond its limit do not use up the reference's.
        if client is not None:
            count = await attempts.count(domain.attempt_key("client", client), window.start)
            domain.check_attempts("client", count, limits, at)
        count = await attempts.count(domain.attempt_key("reference", reference), window.start)
        domain.check_attempts("reference", count, limits, at)
        bookings = Bookings(uow)
        found = await bookings.by_reference_for_code(reference)
        if found is None:
            return domain.unknown_booking()
        if not found.verify_code(code):
            await bookings.count_code_failure(found.booking_id)
            return domain.unknown_booking()
    except DomainError as refused:  # too many attempts, or locked
        return refused
    return found


async def new_manage_code(ctx: Context, principal: Principal, booking_id: str) -> Booking:
    """Staff send the patient a new manage code (BK-2), e.g. when wrong codes locked the
    booking: the old code stops working, the lock lifts, and the reference's attempt count
    starts afresh. The code reaches the patient by SMS (``ManageCodeIssued``)."""
    found = await booking(ctx, principal, booking_id)
    async with ctx.read() as conn:
        book_ = await TimeBooks(conn).get(found.time_book_id)
    assert book_ is not None
    domain.issue_code(found, book_, ctx.sealer)
    try:
        async with ctx.unit_of_work() as uow:
            # The reference's count before the booking's row, in the order an attempt takes
            # them (no deadlock with one).
            await ManageAttempts(uow.conn).forget(domain.attempt_key("reference", found.reference))
            await Bookings(uow).save_code(found)
            uow.publish(ctx.access.event(principal, Ops.NEW_MANAGE_CODE, found.patient_id))
    except StaleBooking as exc:
        raise domain.not_active("The booking was cancelled or changed meanwhile.") from exc
    return found


async def register_arrival(ctx: Context, principal: Principal, booking_id: str) -> Booking:
    """Optional arrival registration (BK-11); registering twice changes nothing."""
    found = await booking(ctx, principal, booking_id)
    if not found.register_arrival(now()):
        return found
    async with ctx.unit_of_work() as uow:
        await Bookings(uow).save(found)
        uow.publish(ctx.access.event(principal, Ops.REGISTER_ARRIVAL, found.patient_id))
    return found


@dataclass(frozen=True)
class MassCancellation:
    mass_cancellation_id: str
    cancelled: list[Booking]
    slots: str


async def mass_cancel(
    ctx: Context,
    principal: Principal,
    time_book_id: str,
    start: datetime,
    end: datetime,
    message: str,
    slots: str,
) -> MassCancellation:
    """Cancel every booking of the time book in the range with the unit's message, e.g. when a
    vaccine delivery failed (BK-6); each patient gets one SMS (NT-3). The freed times are
    closed or reopened as chosen. All of it is one unit of work."""
    book_ = await time_books.time_book(ctx, principal, time_book_id)
    start, end = domain.aware(start, "start"), domain.aware(end, "end")
    if end <= start:
        raise domain.invalid("end", "before_start", "The range ends before it starts.")
    mass_id = str(uuid.uuid4())
    at = now()
    async with ctx.unit_of_work() as uow:
        bookings = Bookings(uow)
        cancelled = await bookings.active_in_range(time_book_id, start, end)
        for b in cancelled:
            b.cancel(book_, "mass_cancellation", at, mass_cancellation_id=mass_id, message=message)
            uow.publish(ctx.access.event(principal, Ops.MASS_CANCEL, b.patient_id))
        await bookings.save_mass_cancellation(
            {
                "mass_cancellation_id": mass_id,
                "time_book_id": time_book_id,
                "start": start,
                "end": end,
                "message": message,
                "slots": slots,
                "created_by": principal.hsa_id,
            },
            cancelled,
        )
        if slots == "close":
            await Slots(uow.conn).close_free(time_book_id, start, end, "Inställt")
    return MassCancellation(mass_id, cancelled, slots)
