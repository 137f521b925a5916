"""The text messages of a patient and how each one fared (NT-4)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from vaccinera_contracts.access import Ops
from vaccinera_kit.deps import AccessLogDep, Allowed, UnitOfWorkDep, endpoint
from vaccinera_notifications import services
from vaccinera_notifications.schemas import MessagesOut, to_messages_out

router = APIRouter(tags=["messages"])

PatientId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[\w.:-]+$")]


@endpoint(router, Ops.LIST_MESSAGES)
async def list_messages(
    patient_id: PatientId, principal: Allowed, unit_of_work: UnitOfWorkDep, access: AccessLogDep
) -> MessagesOut:
    """The patient's text messages, oldest first: what was (or will be) sent, when, and the
    delivery status. The number they went to is not shown; it lives in identity."""
    rows = await services.patient_messages(unit_of_work, access, principal, patient_id)
    return to_messages_out(patient_id, rows)
