"""Routes of one batch (IN-3): see it with its history; discard doses and correct the
balance at the batch's unit, with the reason and who."""

from __future__ import annotations

from fastapi import APIRouter, Request

from vaccinera_contracts.access import Ops
from vaccinera_inventory.api.deps import BatchId, ContextDep, idempotent
from vaccinera_inventory.schemas import (
    BatchDetailOut,
    BatchOut,
    CorrectionIn,
    DiscardIn,
    batch_answer,
    batch_detail_out,
    batch_json,
)
from vaccinera_inventory.services import batches
from vaccinera_inventory.services.context import today
from vaccinera_kit.deps import Allowed, endpoint

router = APIRouter(tags=["batches"])


@endpoint(router, Ops.GET_BATCH, response_model=BatchDetailOut, errors=(404,))
async def get_batch(batch_id: BatchId, ctx: ContextDep, principal: Allowed) -> BatchDetailOut:
    """A batch of the caller's unit with its movements (check-ins, administrations, discards,
    corrections), newest first."""
    return batch_detail_out(await batches.batch(ctx, principal, batch_id), today())


@endpoint(router, Ops.DISCARD, response_model=BatchOut, errors=(404, 409))
async def discard(
    batch_id: BatchId, body: DiscardIn, request: Request, ctx: ContextDep, principal: Allowed
) -> BatchOut:
    """Doses thrown away ("kassation", IN-3), at most the balance, with the reason. A retry
    with the same Idempotency-Key answers as the first, discarded once."""
    call = idempotent(request, principal, "discard", [batch_id, body.model_dump(mode="json")])
    day = today()
    answer = await batches.discard(
        ctx, principal, batch_id, body.doses, body.reason, call, batch_json(day)
    )
    return batch_answer(answer, day)


@endpoint(router, Ops.CORRECT_STOCK, response_model=BatchOut, errors=(404, 409))
async def correct(
    batch_id: BatchId, body: CorrectionIn, request: Request, ctx: ContextDep, principal: Allowed
) -> BatchOut:
    """The balance set to the doses counted, with the reason (IN-3); it settles the batch's
    discrepancies."""
    call = idempotent(request, principal, "correct", [batch_id, body.model_dump(mode="json")])
    day = today()
    answer = await batches.correct(
        ctx, principal, batch_id, body.counted, body.reason, call, batch_json(day)
    )
    return batch_answer(answer, day)
