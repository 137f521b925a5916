"""Identity, asked about a patient booking's projection has not seen yet (issue 7 item 10): a
citizen's first booking, or staff booking a patient identity added a moment ago. Asked with the
caller's own authorization (``vaccinera_kit.identity_client``), so identity applies its rules
and logs the read."""

from __future__ import annotations

import httpx

from vaccinera_booking.domain import Patient
from vaccinera_contracts.identifiers import IdentifierKind
from vaccinera_kit.identity_client import IdentityClient, KnownPatient


def _patient(found: KnownPatient | None) -> Patient | None:
    if found is None:
        return None
    return Patient(
        found.patient_id, IdentifierKind(found.identifier_kind), found.identifier, found.protected
    )


class Identity:
    def __init__(self, client: httpx.AsyncClient, authorization: str | None) -> None:
        self.client = IdentityClient(client, authorization)

    async def patient(self, patient_id: str) -> Patient | None:
        return _patient(await self.client.patient(patient_id))

    async def me(self) -> Patient | None:
        """The logged-in citizen, as identity registered them."""
        return _patient(await self.client.me())
