"""Identity, asked by notifications (only this service has it):

- ``Identity``: whose patient record a citizen's login is, so a citizen reads only their own
  messages (AC-5); asked with the citizen's own authorization, so identity applies its rules
  and logs the read (ID-7).
- ``IdentityRecipients``: where to send an SMS, asked by the sender for each claimed batch with
  the service's own token (issue 9, ID-3). Notifications keeps no copy of any number: each
  answer lives only as long as the sends it is for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import httpx

from vaccinera_kit.errors import Unavailable
from vaccinera_kit.service_token import ServiceToken, ServiceTokenError
from vaccinera_notifications.domain import Contact


class Identity:
    def __init__(self, client: httpx.AsyncClient, authorization: str | None) -> None:
        self.client = client
        self.authorization = authorization

    async def my_patient_id(self) -> str | None:
        """The patient id of the logged-in citizen; None when they are no patient."""
        try:
            r = await self.client.get("/me", headers={"authorization": self.authorization or ""})
        except httpx.HTTPError as exc:
            raise _unavailable() from exc
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise _unavailable()
        return str(r.json()["patient_id"])


def _unavailable() -> Unavailable:
    return Unavailable(
        "Identity could not answer right now; try again shortly.", code="identity_unavailable"
    )


class RecipientsUnavailable(Exception):
    """Identity could not say where to send (down, slow, or refusing this service)."""


class Recipients(Protocol):
    async def lookup(self, patient_ids: Sequence[str]) -> Mapping[str, Contact]:
        """Where to text each patient; a patient missing from the answer has no number."""
        ...

    async def close(self) -> None: ...


class IdentityRecipients:
    """``POST /sms-recipients`` on identity (``Ops.SMS_RECIPIENTS``), one call per batch."""

    def __init__(self, http: httpx.AsyncClient, token: ServiceToken) -> None:
        self.http = http
        self.token = token

    async def lookup(self, patient_ids: Sequence[str]) -> Mapping[str, Contact]:
        if not patient_ids:
            return {}
        for renewed in (False, True):
            try:
                authorization = await self.token.authorization()
                r = await self.http.post(
                    "/sms-recipients",
                    json={"patient_ids": list(patient_ids)},
                    headers={"authorization": authorization},
                )
            except ServiceTokenError as exc:
                raise RecipientsUnavailable(f"no service token: {exc}") from exc
            except httpx.HTTPError as exc:
                raise RecipientsUnavailable(f"identity unreachable: {type(exc).__name__}") from exc
            if r.status_code == 401 and not renewed:
                self.token.invalidate()  # expired or rotated: one more try with a new token
                continue
            if r.status_code != 200:
                raise RecipientsUnavailable(f"identity answered {r.status_code}")
            return {
                found["patient_id"]: Contact(
                    mobile=found["mobile"] if found["status"] == "mobile" else None,
                    protected=found["status"] == "protected",
                )
                for found in r.json()["recipients"]
            }
        raise RecipientsUnavailable("identity refused the service token")

    async def close(self) -> None:
        await self.http.aclose()
