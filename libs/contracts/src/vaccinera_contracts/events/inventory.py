"""Events published by the inventory service on ``vaccinera.inventory.v1``.

A batch's check-ins and balance changes are keyed by batch id, so one batch's balance is seen
in order. ``StockLow`` is about a unit's stock of one vaccine (all its batches together), and
is keyed by unit and vaccine: it may be caused by no batch at all (an expiry, a new level).
No event carries anything about a patient.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import Field

from vaccinera_contracts import topics
from vaccinera_contracts.envelope import DomainEvent


class _BatchEvent(DomainEvent):
    topic: ClassVar[str] = topics.INVENTORY

    batch_id: str
    unit_id: str
    care_provider_id: str
    vaccine_id: str

    def aggregate_key(self) -> str:
        return self.batch_id


class BatchCheckedIn(_BatchEvent):
    """A delivery was checked in ("inkvitterad", IN-1): ``doses`` of this delivery, the
    batch's ``balance`` after it. A second delivery of the same batch number to the same unit
    adds to the same batch."""

    event_type: ClassVar[str] = "inventory.BatchCheckedIn"

    delivery_id: str
    vaccine_name: str
    batch_number: str
    expires_on: date
    doses: int = Field(ge=1)
    balance: int = Field(ge=0)
    checked_in_at: datetime
    checked_in_by_hsa_id: str | None


class StockChanged(_BatchEvent):
    """A batch's balance changed: a dose administered (IN-2), doses discarded ("kasserade",
    IN-3) or the balance corrected after a count (IN-3). ``delta`` is signed, ``balance`` is
    the balance after; discards and corrections name the reason and who (HSA-id)."""

    event_type: ClassVar[str] = "inventory.StockChanged"

    change: Literal["administered", "discarded", "corrected"]
    delta: int
    balance: int = Field(ge=0)
    reason: str | None = None
    by_hsa_id: str | None = None
    administration_id: str | None = None
    at: datetime


class StockLow(DomainEvent):
    """A unit's usable stock of a vaccine (unexpired batches) fell to its low-stock level or
    below (IN-6). Published once per crossing: not again until the stock has risen above the
    level and fallen again."""

    event_type: ClassVar[str] = "inventory.StockLow"
    topic: ClassVar[str] = topics.INVENTORY

    unit_id: str
    care_provider_id: str
    vaccine_id: str
    vaccine_name: str
    usable_doses: int = Field(ge=0)
    level: int = Field(ge=0)
    # The batch whose change crossed the level; None for an expiry or a new level.
    batch_id: str | None = None
    at: datetime

    def aggregate_key(self) -> str:
        return f"{self.unit_id}:{self.vaccine_id}"
