"""Who sees which entries of a patient's record (AC-5, JR-8, ID-5, ID-6).

- Staff see the entries of every unit of their own care provider (AC-5; FAQ: "ser du
  patientens ordinationer och givna vaccin oavsett vilken enhet du är inloggad på").
- Other care providers' entries only through shared record access ("sammanhållen
  journalföring"), after the patient's consent for the reader's care provider (ID-6), and
  before it only how many there are (JR-8).
- A unit the patient has blocked ("spärr", ID-5) is never shown outside it, not even to the
  other units of its care provider, nor counted; a blocked care provider's entries are never
  shown to, nor counted for, other care providers (its own units still see them).
- The patient sees every entry of their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from vaccinera_contracts.events import Block, Consent


class Entry(Protocol):
    @property
    def unit_id(self) -> str: ...

    @property
    def care_provider_id(self) -> str: ...


E = TypeVar("E", bound=Entry)


@dataclass(frozen=True)
class Reader:
    """Staff reading, as their active assignment."""

    unit_id: str
    care_provider_id: str


@dataclass(frozen=True)
class PatientAccess:
    """The patient's blocks and consents, as identity last published them."""

    blocks: tuple[Block, ...] = ()
    consents: tuple[Consent, ...] = ()

    def unit_blocked(self, entry: Entry) -> bool:
        """The entry's unit is blocked ("inre spärr"): hidden from every other unit."""
        return any(b.scope == "unit" and b.target_id == entry.unit_id for b in self.blocks)

    def blocked(self, entry: Entry) -> bool:
        """The entry's unit or care provider is blocked: hidden from other care providers."""
        return self.unit_blocked(entry) or any(
            b.scope == "care_provider" and b.target_id == entry.care_provider_id
            for b in self.blocks
        )

    def consent_for(self, care_provider_id: str, now: datetime) -> Consent | None:
        """The reader's care provider's valid consent to shared record access, if any."""
        return next(
            (
                c
                for c in self.consents
                if c.care_provider_id == care_provider_id
                and c.revoked_at is None
                and c.expires_at > now
            ),
            None,
        )


@dataclass(frozen=True)
class Visible(Generic[E]):
    """What a reader is shown of one kind of entries."""

    own: list[E]
    # Other care providers' entries shown through shared record access (after consent).
    shared: list[E]
    # Other care providers' entries that exist but are not shown (no consent yet).
    not_shown: int


def sort_out(
    entries: Iterable[E], reader: Reader, access: PatientAccess, now: datetime
) -> Visible[E]:
    own: list[E] = []
    shared: list[E] = []
    not_shown = 0
    consented = access.consent_for(reader.care_provider_id, now) is not None
    for entry in entries:
        if entry.unit_id == reader.unit_id:
            own.append(entry)
        elif entry.care_provider_id == reader.care_provider_id:
            # A care provider's block keeps its entries from others, not from itself.
            if not access.unit_blocked(entry):
                own.append(entry)
        elif access.blocked(entry):
            continue
        elif consented:
            shared.append(entry)
        else:
            not_shown += 1
    return Visible(own, shared, not_shown)
