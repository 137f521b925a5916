"""Identity, asked about a patient booking's projection has not seen yet (issue 7 item 10): a
citizen's first booking, or staff booking a patient identity added a moment ago. Asked with the
caller's own authorization, so identity applies its rules and logs the read."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from vaccinera_booking.domain import Patient
from vaccinera_contracts.identifiers import IdentifierKind
from vaccinera_kit.errors import Forbidden, Unavailable


class Identity:
    def __init__(self, client: httpx.AsyncClient, authorization: str | None) -> None:
        self.client = client
        self.authorization = authorization

    async def patient(self, patient_id: str) -> Patient | None:
        return await self._ask(f"/patients/{quote(patient_id, safe='')}")

    async def me(self) -> Patient | None:
        """The logged-in citizen, as identity registered them."""
        return await self._ask("/me")

    async def _ask(self, path: str) -> Patient | None:
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
        return Patient(
            found["patient_id"],
            IdentifierKind(found["identifier_kind"]),
            found["identifier"],
            found["protected"],
        )


def _unavailable(message: str) -> Unavailable:
    return Unavailable(message, code="identity_unavailable")
