"""Identity, asked about a patient a service's projection has not seen yet (a patient added a
moment ago, whose registration event is still on its way). Asked with the caller's own
authorization, so identity applies its rules and logs the read."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import httpx

from vaccinera_kit.errors import Forbidden, Unavailable


@dataclass(frozen=True)
class KnownPatient:
    patient_id: str
    identifier_kind: str
    identifier: str
    protected: bool


class IdentityClient:
    def __init__(self, client: httpx.AsyncClient, authorization: str | None) -> None:
        self.client = client
        self.authorization = authorization

    async def patient(self, patient_id: str) -> KnownPatient | None:
        return await self._ask(f"/patients/{quote(patient_id, safe='')}")

    async def me(self) -> KnownPatient | None:
        """The logged-in citizen, as identity registered them."""
        return await self._ask("/me")

    async def _ask(self, path: str) -> KnownPatient | None:
        """Identity's answer; None if identity does not know the patient."""
        try:
            r = await self.client.get(path, headers={"authorization": self.authorization or ""})
        except httpx.HTTPError as exc:
            raise _unavailable("Identity is not reachable right now; try again shortly.") from exc
        if r.status_code == 404:
            return None
        if r.status_code == 403:  # identity's own rules (e.g. a citizen asking for another)
            json = r.headers.get("content-type", "").startswith("application/json")
            refusal = r.json() if json else {}
            raise Forbidden(
                str(refusal.get("message") or "You can only see and change your own details."),
                code=str(refusal.get("code") or "not_your_data"),
            )
        if r.status_code != 200:
            raise _unavailable("Identity could not answer right now; try again shortly.")
        found = r.json()
        return KnownPatient(
            found["patient_id"], found["identifier_kind"], found["identifier"], found["protected"]
        )


def _unavailable(message: str) -> Unavailable:
    return Unavailable(message, code="identity_unavailable")
