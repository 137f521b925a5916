"""Routes of a booking (BK-2..BK-6, BK-11): book, see, rebook, cancel, manage with the SMS
code, register arrival, cancel many at once. Book, rebook and cancel take an Idempotency-Key."""

from __future__ import annotations

from fastapi import APIRouter, Request

from vaccinera_booking.api.deps import ContextDep, client_address, idempotent
from vaccinera_booking.schemas import (
    BookIn,
    BookingOut,
    ManageIn,
    ManageRebookIn,
    MassCancellationIn,
    MassCancellationOut,
    RebookIn,
    booking_answer,
    booking_json,
    booking_out,
)
from vaccinera_booking.services import bookings
from vaccinera_contracts.access import Ops
from vaccinera_kit.deps import Allowed, endpoint

router = APIRouter(tags=["booking"])


@endpoint(router, Ops.BOOK, status_code=201, response_model=BookingOut, errors=(404, 409))
async def book(body: BookIn, request: Request, ctx: ContextDep, principal: Allowed) -> BookingOut:
    """Book a time: the first free column at that time is taken; a lost race gets 409 with the
    next free times (BK-4). Citizens answer the health declaration in the same request (BK-2).
    A retry with the same Idempotency-Key gets this booking back instead of a second one."""
    call = idempotent(request, principal, "book", body.model_dump(mode="json"))
    answer = await bookings.book(ctx, principal, body.to_request(), call, booking_json)
    return booking_answer(answer)


@endpoint(router, Ops.GET_BOOKING, response_model=BookingOut, errors=(404,))
async def get_booking(booking_id: str, ctx: ContextDep, principal: Allowed) -> BookingOut:
    return booking_out(await bookings.see(ctx, principal, booking_id))


@endpoint(router, Ops.PATIENT_BOOKINGS, response_model=list[BookingOut], errors=(404,))
async def patient_bookings(
    patient_id: str, ctx: ContextDep, principal: Allowed
) -> list[BookingOut]:
    """Staff see the bookings at the unit they act for (AC-5); a citizen sees all their own."""
    return [booking_out(b) for b in await bookings.of_patient(ctx, principal, patient_id)]


@endpoint(router, Ops.REBOOK, response_model=BookingOut, errors=(404, 409))
async def rebook(
    booking_id: str, body: RebookIn, request: Request, ctx: ContextDep, principal: Allowed
) -> BookingOut:
    """Move a booking (BK-5); a retry with the same Idempotency-Key answers as the first."""
    call = idempotent(request, principal, "rebook", [booking_id, body.model_dump(mode="json")])
    if (answer := await call.previous(ctx.db)) is not None:
        return booking_answer(answer)
    current = await bookings.booking(ctx, principal, booking_id)
    answer = await bookings.rebook(
        ctx, principal, current, body.start, body.time_book_id, call, booking_json, Ops.REBOOK
    )
    return booking_answer(answer)


@endpoint(router, Ops.CANCEL, response_model=BookingOut, errors=(404, 409))
async def cancel(
    booking_id: str, request: Request, ctx: ContextDep, principal: Allowed
) -> BookingOut:
    """Cancel a booking (BK-5); a retry with the same Idempotency-Key answers as the first."""
    call = idempotent(request, principal, "cancel", booking_id)
    if (answer := await call.previous(ctx.db)) is not None:
        return booking_answer(answer)
    current = await bookings.booking(ctx, principal, booking_id)
    answer = await bookings.cancel(ctx, principal, current, call, booking_json, Ops.CANCEL)
    return booking_answer(answer)


@endpoint(router, Ops.MANAGE_REBOOK, response_model=BookingOut, errors=(403, 404, 409, 429))
async def manage_rebook(body: ManageRebookIn, request: Request, ctx: ContextDep) -> BookingOut:
    """Rebook with the reference and code from the confirmation SMS (no BankID, BK-2).
    Attempts are limited per client and per reference (429 with Retry-After); wrong codes lock
    the booking until staff send a new code (403 ``locked``)."""
    current = await bookings.by_code(ctx, body.reference, body.code, client_address(request))
    answer = await bookings.rebook(
        ctx, None, current, body.start, None, None, booking_json, Ops.MANAGE_REBOOK
    )
    return booking_answer(answer)


@endpoint(router, Ops.MANAGE_CANCEL, response_model=BookingOut, errors=(403, 404, 409, 429))
async def manage_cancel(body: ManageIn, request: Request, ctx: ContextDep) -> BookingOut:
    """Cancel with the reference and code from the confirmation SMS (no BankID, BK-2), with
    the same limits as a rebook."""
    current = await bookings.by_code(ctx, body.reference, body.code, client_address(request))
    answer = await bookings.cancel(ctx, None, current, None, booking_json, Ops.MANAGE_CANCEL)
    return booking_answer(answer)


@endpoint(router, Ops.NEW_MANAGE_CODE, response_model=BookingOut, errors=(404, 409))
async def new_manage_code(booking_id: str, ctx: ContextDep, principal: Allowed) -> BookingOut:
    """Send the patient a new code for managing the booking by SMS (BK-2), e.g. after wrong
    codes locked it: the old code stops working and the lock lifts."""
    return booking_out(await bookings.new_manage_code(ctx, principal, booking_id))


@endpoint(router, Ops.REGISTER_ARRIVAL, response_model=BookingOut, errors=(404, 409))
async def register_arrival(booking_id: str, ctx: ContextDep, principal: Allowed) -> BookingOut:
    """Optional arrival registration (BK-11)."""
    return booking_out(await bookings.register_arrival(ctx, principal, booking_id))


@endpoint(
    router, Ops.MASS_CANCEL, status_code=201, response_model=MassCancellationOut, errors=(404,)
)
async def mass_cancel(
    time_book_id: str, body: MassCancellationIn, ctx: ContextDep, principal: Allowed
) -> MassCancellationOut:
    """Cancel every booking of the time book in the range with the unit's message, e.g. when a
    vaccine delivery failed (BK-6); each patient gets one SMS (NT-3). The freed times are
    closed or reopened as chosen. All of it is one unit of work."""
    done = await bookings.mass_cancel(
        ctx, principal, time_book_id, body.start, body.end, body.message, body.slots
    )
    return MassCancellationOut(
        mass_cancellation_id=done.mass_cancellation_id,
        cancelled=len(done.cancelled),
        patients=len({b.patient_id for b in done.cancelled}),
        slots=done.slots,
    )
