"""Identity, asked by notifications (only this service has it): whose patient record a
citizen's login is, so a citizen reads only their own messages (AC-5). Asked with the
citizen's own authorization, so identity applies its rules and logs the read (ID-7)."""

from __future__ import annotations

import httpx

from vaccinera_kit.errors import Unavailable


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
