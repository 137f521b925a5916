"""The batch aggregate: one batch (lot) of a vaccine in one unit's stock, with its balance
(IN-1..IN-3, IN-6).

The balance never goes below zero: an administration on an empty batch is not subtracted but
reported as a discrepancy for the stock administrator, who settles it with a correction
after counting. Every change records its event in ``events``; the repository stages them in
the unit of work that stores the change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.events import BatchCheckedIn, StockChanged
from vaccinera_inventory.domain.common import invalid, local_day

MAX_DOSES = 100_000
Discrepancy = Literal["empty", "unknown_batch", "expired"]
DISCREPANCIES: tuple[Discrepancy, ...] = ("empty", "unknown_batch", "expired")


@dataclass(frozen=True)
class Vaccine:
    """A vaccine of the journal's catalogue as the inventory knows it: its id and its current
    name (a rename in the catalogue shows on every batch, JR-1)."""

    vaccine_id: str
    name: str


@dataclass(frozen=True)
class Delivery:
    """What arrived ("inkvittering"): the vaccine, its batch number, expiry and doses (IN-1)."""

    vaccine: Vaccine
    batch_number: str
    expires_on: date
    doses: int


@dataclass(frozen=True)
class Administration:
    """A dose given from a batch, as the journal reported it (IN-2)."""

    administration_id: str
    batch_id: str
    unit_id: str
    care_provider_id: str
    vaccine_id: str
    administered_at: datetime


@dataclass(frozen=True)
class Outcome:
    """What an administration did to the stock: a dose subtracted, or a discrepancy for the
    stock administrator (or both: a dose from an expired batch is subtracted and reported)."""

    decremented: bool
    discrepancy: Discrepancy | None = None


UNKNOWN_BATCH = Outcome(decremented=False, discrepancy="unknown_batch")


def _doses(doses: int, field_name: str = "doses") -> None:
    if not 1 <= doses <= MAX_DOSES:
        raise invalid(field_name, "range", f"Give 1 to {MAX_DOSES} doses.")


@dataclass
class Batch:
    batch_id: str
    unit_id: str
    care_provider_id: str
    vaccine: Vaccine
    batch_number: str
    expires_on: date
    balance: int
    delivered: int
    checked_in_at: datetime
    events: list[DomainEvent] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def check_in(
        cls,
        *,
        batch_id: str,
        delivery_id: str,
        unit_id: str,
        care_provider_id: str,
        delivery: Delivery,
        by: str | None,
        now: datetime,
        today: date,
    ) -> Batch:
        """A new batch in the unit's stock (IN-1). An expired delivery is refused (IN-6)."""
        _doses(delivery.doses)
        if delivery.expires_on < today:
            raise invalid("expires_on", "expired", "This batch has expired: it cannot be used.")
        batch = cls(
            batch_id=batch_id,
            unit_id=unit_id,
            care_provider_id=care_provider_id,
            vaccine=delivery.vaccine,
            batch_number=delivery.batch_number,
            expires_on=delivery.expires_on,
            balance=delivery.doses,
            delivered=delivery.doses,
            checked_in_at=now,
        )
        batch.events.append(batch._checked_in(delivery_id, delivery.doses, by, now))
        return batch

    def deliver(
        self, delivery_id: str, delivery: Delivery, by: str | None, now: datetime, today: date
    ) -> None:
        """Another delivery of the same batch number to the same unit adds to this batch."""
        _doses(delivery.doses)
        if delivery.expires_on != self.expires_on:
            raise invalid(
                "expires_on",
                "differs",
                f"Batch {self.batch_number} is already in stock with expiry "
                f"{self.expires_on.isoformat()}: check the package.",
            )
        if self.expired(today):
            raise invalid("expires_on", "expired", "This batch has expired: it cannot be used.")
        if self.balance + delivery.doses > MAX_DOSES:
            raise invalid("doses", "range", f"A batch holds at most {MAX_DOSES} doses.")
        self.balance += delivery.doses
        self.delivered += delivery.doses
        self.events.append(self._checked_in(delivery_id, delivery.doses, by, now))

    def expired(self, today: date) -> bool:
        """Usable through its expiry day."""
        return self.expires_on < today

    def usable(self, today: date) -> bool:
        """Offered for an administration: not expired and doses left (IN-6)."""
        return self.balance > 0 and not self.expired(today)

    def administer(self, administration: Administration, now: datetime) -> Outcome:
        """One dose given from this batch (IN-2). An empty batch is not subtracted from: the
        dose is reported as a discrepancy. A dose from an expired batch left the vial all the
        same, so it is subtracted, and reported."""
        if self.balance == 0:
            return Outcome(decremented=False, discrepancy="empty")
        self._change("administered", -1, None, None, now, administration.administration_id)
        expired = self.expired(local_day(administration.administered_at))
        return Outcome(decremented=True, discrepancy="expired" if expired else None)

    def return_dose(self, administration_id: str, reason: str, now: datetime) -> None:
        """A dose subtracted for an administration that, corrected, was given from another
        batch (JR-4): it is back in this one."""
        self._change("administered", 1, reason, None, now, administration_id)

    def discard(self, doses: int, reason: str, by: str | None, now: datetime) -> None:
        """Doses thrown away ("kassation", "svinn"), with the reason (IN-3)."""
        _doses(doses)
        if doses > self.balance:
            raise invalid(
                "doses", "exceeds_balance", f"Only {self.balance} doses are left in this batch."
            )
        self._change("discarded", -doses, _reason(reason), by, now)

    def correct(self, counted: int, reason: str, by: str | None, now: datetime) -> None:
        """The balance set to what was counted (IN-3): the only way a balance moves other
        than by deliveries, administrations and discards. A count equal to the balance is
        recorded too: it confirms the balance and settles the batch's discrepancies."""
        if not 0 <= counted <= MAX_DOSES:
            raise invalid("counted", "range", f"Give 0 to {MAX_DOSES} doses.")
        self._change("corrected", counted - self.balance, _reason(reason), by, now)

    def _change(
        self,
        change: Literal["administered", "discarded", "corrected"],
        delta: int,
        reason: str | None,
        by: str | None,
        now: datetime,
        administration_id: str | None = None,
    ) -> None:
        balance = self.balance + delta
        if balance < 0:  # the rules above keep it so; the database's check constraint too
            raise invalid("doses", "exceeds_balance", "The balance cannot go below zero.")
        self.balance = balance
        self.events.append(
            StockChanged(
                batch_id=self.batch_id,
                unit_id=self.unit_id,
                care_provider_id=self.care_provider_id,
                vaccine_id=self.vaccine.vaccine_id,
                change=change,
                delta=delta,
                balance=balance,
                reason=reason,
                by_hsa_id=by,
                administration_id=administration_id,
                at=now,
            )
        )

    def _checked_in(
        self, delivery_id: str, doses: int, by: str | None, now: datetime
    ) -> BatchCheckedIn:
        return BatchCheckedIn(
            batch_id=self.batch_id,
            unit_id=self.unit_id,
            care_provider_id=self.care_provider_id,
            vaccine_id=self.vaccine.vaccine_id,
            delivery_id=delivery_id,
            vaccine_name=self.vaccine.name,
            batch_number=self.batch_number,
            expires_on=self.expires_on,
            doses=doses,
            balance=self.balance,
            checked_in_at=now,
            checked_in_by_hsa_id=by,
        )


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise invalid("reason", "required", "Say why (e.g. broken cold chain, dropped vial).")
    return reason


def usable_batches(batches: list[Batch], today: date) -> list[Batch]:
    """The batches a nurse may pick for an administration, the first to expire first:
    expired and empty batches are not offered (IN-6)."""
    return sorted(
        (b for b in batches if b.usable(today)),
        key=lambda b: (b.vaccine.name, b.expires_on, b.batch_number),
    )
