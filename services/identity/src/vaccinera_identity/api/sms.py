"""Where to send an SMS: asked by notifications' SMS sender for each claimed batch, with the
service's own token (issue 9, ID-3). No person may call it; contact data leaves identity only
here, over HTTP, at the moment of sending."""

from __future__ import annotations

from fastapi import APIRouter

from vaccinera_contracts.access import Ops
from vaccinera_identity import services
from vaccinera_identity.schemas import SmsRecipientsIn, SmsRecipientsOut, to_sms_recipients_out
from vaccinera_kit.deps import AccessLogDep, Allowed, UnitOfWorkDep, endpoint

router = APIRouter(tags=["sms recipients"])


@endpoint(router, Ops.SMS_RECIPIENTS)
async def sms_recipients(
    body: SmsRecipientsIn, principal: Allowed, unit_of_work: UnitOfWorkDep, access: AccessLogDep
) -> SmsRecipientsOut:
    """Each patient's mobile number, or ``protected`` (never text), ``none`` (no number) or
    ``unknown``, in the order asked. Each read is written to the patient's access log."""
    found = await services.sms_recipients(unit_of_work, access, principal, body.patient_ids)
    return to_sms_recipients_out(found)
