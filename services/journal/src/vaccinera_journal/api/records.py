"""Routes that read a patient's record: the journal as the reader may see it (AC-5), other
care providers' entries through shared record access (JR-8), and the printouts (JR-7, AC-4).
Each read is in the patient's access log (ID-7)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from vaccinera_contracts.access import PRINTERS, Ops
from vaccinera_contracts.roles import Principal
from vaccinera_journal import printouts
from vaccinera_journal.api.deps import ContextDep, PatientId
from vaccinera_journal.schemas import RecordOut, SharedRecordOut, record_out, shared_record_out
from vaccinera_journal.services import reads
from vaccinera_kit.deps import Allowed, endpoint

router = APIRouter(tags=["records"])

PDF = {200: {"content": {"application/pdf": {}}, "description": "The printout (PDF)."}}


def _reads_declarations(principal: Principal) -> bool:
    """The health declaration is read by the clinicians (JR-6, AC-4) and the patient."""
    active = principal.active_assignment
    return principal.kind == "citizen" or (active is not None and active.role in PRINTERS)


@endpoint(router, Ops.VACCINATIONS, response_model=RecordOut, errors=(404,))
async def vaccinations(patient_id: PatientId, ctx: ContextDep, principal: Allowed) -> RecordOut:
    """Orders and doses of the reader's care provider, every unit of it (AC-5), each dose
    with the health declaration it was given on; how many entries other care providers have
    (shown after consent, JR-8); and the next dose with its default vaccine (JR-2)."""
    view = await reads.view(ctx, principal, Ops.VACCINATIONS, patient_id)
    return record_out(view, with_declarations=_reads_declarations(principal))


@endpoint(router, Ops.SHARED_RECORD, response_model=SharedRecordOut, errors=(404,))
async def shared_record(
    patient_id: PatientId, ctx: ContextDep, principal: Allowed
) -> SharedRecordOut:
    """Other care providers' orders and doses ("sammanhållen journalföring"): after the
    patient's consent for the reader's care provider (record it at identity first), never
    from a unit or care provider the patient blocked; before consent only how many."""
    return shared_record_out(await reads.view(ctx, principal, Ops.SHARED_RECORD, patient_id))


@endpoint(router, Ops.PRINT_HISTORY, response_class=Response, responses=PDF, errors=(404,))
async def print_history(patient_id: PatientId, ctx: ContextDep, principal: Allowed) -> Response:
    """The vaccination history as PDF: every dose the reader may see, with date, vaccine and
    dose number."""
    view = await reads.view(ctx, principal, Ops.PRINT_HISTORY, patient_id)
    return _pdf(printouts.render(view, "history"), "vaccinationshistorik")


@endpoint(router, Ops.PRINT_JOURNAL, response_class=Response, responses=PDF, errors=(404,))
async def print_journal(patient_id: PatientId, ctx: ContextDep, principal: Allowed) -> Response:
    """The vaccination journal as PDF: the history with each dose's batch number, vaccinator
    and the health declaration it was given on."""
    view = await reads.view(ctx, principal, Ops.PRINT_JOURNAL, patient_id)
    return _pdf(printouts.render(view, "journal"), "vaccinationsjournal")


def _pdf(content: bytes, name: str) -> Response:
    return Response(
        content,
        media_type="application/pdf",
        headers={
            "content-disposition": f'inline; filename="{name}.pdf"',
            "cache-control": "no-store",
        },
    )
