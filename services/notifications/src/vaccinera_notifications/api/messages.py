"""The text messages of a patient and how each one fared (NT-4), for staff at the unit of the
booking and for the patient (AC-5)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from vaccinera_contracts.access import Ops
from vaccinera_kit.deps import AccessLogDep, Allowed, UnitOfWorkDep, endpoint
from vaccinera_notifications import services
from vaccinera_notifications.api.deps import IdentityDep
from vaccinera_notifications.schemas import MessagesOut, to_messages_out

router = APIRouter(tags=["messages"])

PatientId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[\w.:-]+$")]


@endpoint(router, Ops.LIST_MESSAGES)
async def list_messages(
    patient_id: PatientId,
    principal: Allowed,
    unit_of_work: UnitOfWorkDep,
    access: AccessLogDep,
    identity: IdentityDep,
) -> MessagesOut:
    """The patient's text messages, oldest first: what was (or will be) sent, when, and the
    delivery status. Staff see the messages about bookings at the unit of their active
    assignment only (AC-5); a patient logged in with BankID sees all of their own. The
    booking's manage code is masked for everyone, and the number they went to is not shown
    (it lives in identity)."""
    rows = await services.patient_messages(unit_of_work, access, identity, principal, patient_id)
    return to_messages_out(patient_id, rows)
