"""Notifications' HTTP API: the text messages of a patient and how each one fared (NT-4).

Every route is one operation of the authorization matrix; every read is reported to the
access log (ID-7).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from vaccinera_contracts.access import Ops
from vaccinera_contracts.roles import Principal
from vaccinera_kit.access_log import AccessLog
from vaccinera_kit.app import Service
from vaccinera_kit.auth import authorize
from vaccinera_kit.database import Database
from vaccinera_notifications import store
from vaccinera_notifications.domain import Kind, Status

router = APIRouter(tags=["messages"])
routers = (router,)


class MessageOut(BaseModel):
    message_id: str
    booking_id: str
    kind: Kind
    status: Status
    text: str
    due_at: datetime
    sent_at: datetime | None
    attempts: int
    # Why it was not (yet) sent: "no mobile number", "protected identity", "provider answered 503".
    reason: str | None = Field(default=None)


class MessagesOut(BaseModel):
    patient_id: str
    messages: list[MessageOut]


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def get_db(request: Request) -> Database:
    return _service(request).db


def get_access_log(request: Request) -> AccessLog:
    return _service(request).access_log


Db = Annotated[Database, Depends(get_db)]
Access = Annotated[AccessLog, Depends(get_access_log)]
PatientId = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[\w.:-]+$")]


@router.get(
    "/patients/{patient_id}/messages",
    response_model=MessagesOut,
    summary=Ops.LIST_MESSAGES.summary,
)
async def list_messages(
    patient_id: PatientId,
    db: Db,
    access: Access,
    principal: Annotated[Principal, Depends(authorize(Ops.LIST_MESSAGES))],
) -> MessagesOut:
    """The patient's text messages, oldest first: what was (or will be) sent, when, and the
    delivery status. The number they went to is not shown; it lives in identity."""
    async with db.connect() as conn:
        rows = await store.patient_messages(conn, patient_id)
    await access.record(principal, Ops.LIST_MESSAGES, patient_id)
    return MessagesOut(
        patient_id=patient_id,
        messages=[
            MessageOut(
                message_id=r.message_id,
                booking_id=r.booking_id,
                kind=r.kind,
                status=r.status,
                text=r.text,
                due_at=r.due_at,
                sent_at=r.sent_at,
                attempts=r.attempts,
                reason=r.last_error,
            )
            for r in rows
        ],
    )
