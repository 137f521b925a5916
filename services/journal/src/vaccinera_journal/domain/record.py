"""A patient's vaccination record: orders, doses given and doses given elsewhere, with the
rules of ordering (JR-2, JR-3), giving (JR-4, IN-6, BK-10) and entering history (JR-5, JR-9).

The record holds every entry of the patient, whichever care provider made it: the rules
(a dose ordered twice, the interval since the previous dose) are about the patient, not
about what one unit may read. What a reader is shown is ``visibility``'s business.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Literal

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.events import (
    AdministrationCorrected,
    DoseAdministered,
    DoseOrdered,
    HistoricalDoseRecorded,
    OrderVoided,
)
from vaccinera_journal.domain.catalogue import Vaccine
from vaccinera_journal.domain.common import Place, local_day
from vaccinera_kit.errors import Conflict, Forbidden, NotFound, invalid

OrderStatus = Literal["ordered", "voided", "administered"]


@dataclass
class Order:
    order_id: str
    patient_id: str
    vaccine_id: str
    dose_number: int
    patient_group: str | None
    unit_id: str
    care_provider_id: str
    ordered_at: datetime
    prescriber_hsa_id: str
    replaces_order_id: str | None = None
    status: OrderStatus = "ordered"
    voided_at: datetime | None = None
    voided_by_hsa_id: str | None = None
    void_reason: str | None = None


@dataclass(frozen=True)
class Administration:
    administration_id: str
    patient_id: str
    order_id: str
    vaccine_id: str
    dose_number: int
    batch_id: str
    batch_number: str
    unit_id: str
    care_provider_id: str
    administered_at: datetime
    vaccinator_hsa_id: str
    declaration_id: str | None = None
    # 1 as signed; each correction of its batch or dose number makes the next (RX-1).
    revision: int = 1
    corrected_at: datetime | None = None
    corrected_by_hsa_id: str | None = None
    correction_reason: str | None = None

    @property
    def given_on(self) -> date:
        return local_day(self.administered_at)


@dataclass(frozen=True)
class HistoricalDose:
    historical_dose_id: str
    patient_id: str
    vaccine_id: str
    dose_number: int
    given_on: date
    country: str | None
    comment: str
    unit_id: str
    care_provider_id: str
    recorded_at: datetime
    recorded_by_hsa_id: str


@dataclass(frozen=True)
class BatchOnHand:
    """A batch of a unit's stock as the journal knows it (from the inventory's events), with
    the doses it may still give from it."""

    batch_id: str
    unit_id: str
    care_provider_id: str
    vaccine_id: str
    batch_number: str
    expires_on: date
    available: int


Given = Administration | HistoricalDose
VaccineOf = Callable[[str], Vaccine]


def following(dose_number: int, given: Sequence[Given], orders: Sequence[Order]) -> str | None:
    """The vaccine a dose follows (JR-2, beyond: dose 2 defaults to dose 1's vaccine): the
    previous dose's, given or still ordered; None for a first dose."""
    if dose_number <= 1:
        return None
    before = sorted(
        (d for d in given if d.dose_number == dose_number - 1), key=lambda d: d.given_on
    )
    if before:
        return before[-1].vaccine_id
    ordered = [o for o in orders if o.dose_number == dose_number - 1 and o.status == "ordered"]
    return ordered[-1].vaccine_id if ordered else None


def next_dose(given: Sequence[Given], orders: Sequence[Order]) -> tuple[int, str | None]:
    """The order form's next dose: the one after every dose given or still ordered, and the
    vaccine it defaults to."""
    numbers = [d.dose_number for d in given] + [
        o.dose_number for o in orders if o.status == "ordered"
    ]
    number = max(numbers, default=0) + 1
    return number, following(number, given, orders)


@dataclass
class PatientRecord:
    patient_id: str
    orders: list[Order] = field(default_factory=list)
    administrations: list[Administration] = field(default_factory=list)
    history: list[HistoricalDose] = field(default_factory=list)
    # What this unit of work changed, for the store, and the events to publish.
    new_orders: list[Order] = field(default_factory=list)
    voided: list[Order] = field(default_factory=list)
    new_administrations: list[Administration] = field(default_factory=list)
    corrected: list[Administration] = field(default_factory=list)
    new_history: list[HistoricalDose] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list)

    # --- reading the record --------------------------------------------------------------

    def given(self) -> list[Given]:
        """Every dose the patient has had, given here or entered as history, oldest first."""
        doses: list[Given] = [*self.administrations, *self.history]
        return sorted(doses, key=lambda d: (d.given_on, d.dose_number))

    def order(self, order_id: str) -> Order:
        found = next((o for o in self.orders if o.order_id == order_id), None)
        if found is None:
            raise NotFound(f"No order {order_id} for this patient.", code="order_not_found")
        return found

    def default_vaccine_id(self, dose_number: int) -> str | None:
        return following(dose_number, self.given(), self.orders)

    def earliest_day(self, dose_number: int, vaccine_of: VaccineOf) -> date | None:
        """The first day dose ``dose_number`` may be given: the catalogue's minimum interval
        after the latest dose before it (BK-10); None if nothing holds it back."""
        before = [d for d in self.given() if d.dose_number == dose_number - 1]
        if not before:
            return None
        previous = before[-1]
        return vaccine_of(previous.vaccine_id).next_dose_from(
            previous.dose_number, previous.given_on
        )

    def _check_dose_free(self, dose_number: int) -> None:
        """One dose per number: a dose already given or entered, or still ordered, is not
        ordered again (void the order first, JR-3)."""
        given = [d for d in self.given() if d.dose_number == dose_number]
        if given:
            raise Conflict(
                f"Dose {dose_number} is already recorded, given on "
                f"{given[-1].given_on.isoformat()}.",
                code="dose_already_given",
            )
        open_order = next(
            (o for o in self.orders if o.dose_number == dose_number and o.status == "ordered"),
            None,
        )
        if open_order is not None:
            raise Conflict(
                f"Dose {dose_number} is already ordered (order {open_order.order_id}): give it, "
                "or void it before ordering another vaccine.",
                code="dose_already_ordered",
            )

    # --- changing it ---------------------------------------------------------------------

    def place_orders(
        self,
        order_ids: Sequence[str],
        vaccine: Vaccine,
        dose_numbers: Sequence[int],
        patient_group: str | None,
        place: Place,
        now: datetime,
        replaces_order_id: str | None = None,
    ) -> list[Order]:
        """Order one or more doses of a vaccine ("Signera ordination", JR-2): doses 1 and 2
        together are two orders. A new order replacing a voided one keeps its dose number
        (JR-3: dose 2 of an mRNA vaccine after a voided vector vaccine)."""
        if len(set(dose_numbers)) != len(dose_numbers):
            raise invalid("dose_numbers", "duplicate", "Order each dose number once.")
        if replaces_order_id is not None:
            replaced = self.order(replaces_order_id)
            if replaced.care_provider_id != place.care_provider_id:
                raise Forbidden(
                    "This order belongs to another care provider.", code="other_care_provider"
                )
            if replaced.status != "voided":
                raise Conflict(
                    "Only a voided order can be replaced: void it first, with the reason.",
                    code="order_not_voided",
                )
            if list(dose_numbers) != [replaced.dose_number]:
                raise invalid(
                    "dose_numbers",
                    "keeps_dose_number",
                    f"A new order for a voided one keeps its dose number: {replaced.dose_number}.",
                )
        for number in dose_numbers:
            self._check_dose_free(number)
        placed = []
        for order_id, number in zip(order_ids, dose_numbers, strict=True):
            new = Order(
                order_id=order_id,
                patient_id=self.patient_id,
                vaccine_id=vaccine.vaccine_id,
                dose_number=number,
                patient_group=patient_group,
                unit_id=place.unit_id,
                care_provider_id=place.care_provider_id,
                ordered_at=now,
                prescriber_hsa_id=place.hsa_id,
                replaces_order_id=replaces_order_id,
            )
            self.orders.append(new)
            self.new_orders.append(new)
            self.events.append(
                DoseOrdered(
                    patient_id=self.patient_id,
                    order_id=order_id,
                    vaccine_id=vaccine.vaccine_id,
                    vaccine_name=vaccine.name,
                    dose_number=number,
                    patient_group=patient_group,
                    unit_id=place.unit_id,
                    care_provider_id=place.care_provider_id,
                    ordered_at=now,
                    prescriber_hsa_id=place.hsa_id,
                    replaces_order_id=replaces_order_id,
                )
            )
            placed.append(new)
        return placed

    def open_order(self, order_id: str, place: Place) -> Order:
        """An order of the caller's care provider that is neither given nor voided."""
        order = self.order(order_id)
        if order.care_provider_id != place.care_provider_id:
            raise Forbidden(
                "This order belongs to another care provider.", code="other_care_provider"
            )
        if order.status == "administered":
            raise Conflict("This order has been given.", code="order_given")
        if order.status == "voided":
            raise Conflict("This order is voided.", code="order_voided")
        return order

    def void(self, order_id: str, reason: str, place: Place, now: datetime) -> Order:
        """Void ("makulera") an order that has not been given, with the reason (JR-3)."""
        order = self.open_order(order_id, place)
        order.status = "voided"
        order.voided_at = now
        order.voided_by_hsa_id = place.hsa_id
        order.void_reason = reason
        self.voided.append(order)
        self.events.append(
            OrderVoided(
                patient_id=self.patient_id,
                order_id=order.order_id,
                vaccine_id=order.vaccine_id,
                dose_number=order.dose_number,
                unit_id=order.unit_id,
                care_provider_id=order.care_provider_id,
                voided_at=now,
                voided_by_hsa_id=place.hsa_id,
            )
        )
        return order

    def administer(
        self,
        administration_id: str,
        order_id: str,
        batch: BatchOnHand,
        vaccine_of: VaccineOf,
        place: Place,
        now: datetime,
        declaration_id: str | None = None,
    ) -> Administration:
        """Give an ordered dose from a batch of the unit's stock ("Signera administrering",
        JR-4). An expired or empty batch is refused (IN-6), and so is a dose before the
        minimum interval since the previous one (BK-10), naming the first allowed day."""
        order = self.open_order(order_id, place)
        if batch.unit_id != place.unit_id:
            raise invalid(
                "batch_id",
                "other_unit",
                "This batch is another unit's stock: pick a batch of your unit.",
            )
        vaccine = vaccine_of(order.vaccine_id)
        if batch.vaccine_id != order.vaccine_id:
            raise invalid(
                "batch_id",
                "wrong_vaccine",
                f"Batch {batch.batch_number} is not {vaccine.name}, the ordered vaccine.",
            )
        today = local_day(now)
        if batch.expires_on < today:
            raise Conflict(
                f"Batch {batch.batch_number} expired on {batch.expires_on.isoformat()}: "
                "it cannot be used.",
                code="batch_expired",
            )
        if batch.available <= 0:
            raise Conflict(f"Batch {batch.batch_number} has no doses left.", code="batch_empty")
        already = [d for d in self.given() if d.dose_number == order.dose_number]
        if already:
            raise Conflict(
                f"Dose {order.dose_number} is already recorded, given on "
                f"{already[-1].given_on.isoformat()}: void this order.",
                code="dose_already_given",
            )
        earliest = self.earliest_day(order.dose_number, vaccine_of)
        if earliest is not None and today < earliest:
            raise Conflict(
                f"Dose {order.dose_number} may be given from {earliest.isoformat()}, the "
                "minimum interval after the previous dose.",
                code="dose_too_early",
                extra={"earliest_date": earliest.isoformat()},
            )
        given = Administration(
            administration_id=administration_id,
            patient_id=self.patient_id,
            order_id=order.order_id,
            vaccine_id=order.vaccine_id,
            dose_number=order.dose_number,
            batch_id=batch.batch_id,
            batch_number=batch.batch_number,
            unit_id=place.unit_id,
            care_provider_id=place.care_provider_id,
            administered_at=now,
            vaccinator_hsa_id=place.hsa_id,
            declaration_id=declaration_id,
        )
        order.status = "administered"
        self.administrations.append(given)
        self.new_administrations.append(given)
        self.events.append(
            DoseAdministered(
                patient_id=self.patient_id,
                administration_id=administration_id,
                order_id=order.order_id,
                vaccine_id=order.vaccine_id,
                vaccine_name=vaccine.name,
                dose_number=order.dose_number,
                batch_id=batch.batch_id,
                batch_number=batch.batch_number,
                unit_id=place.unit_id,
                care_provider_id=place.care_provider_id,
                administered_at=now,
                vaccinator_hsa_id=place.hsa_id,
                atc_code=vaccine.atc_code,
                next_dose_from=vaccine.next_dose_from(order.dose_number, today),
            )
        )
        return given

    def correct(
        self,
        administration_id: str,
        batch: BatchOnHand | None,
        dose_number: int | None,
        reason: str,
        vaccine_of: VaccineOf,
        place: Place,
        now: datetime,
    ) -> Administration:
        """Correct a given dose signed with the wrong batch or dose number (JR-4), with the
        reason, at the unit that gave it. The vaccine stays: a dose of another vaccine was
        not this dose. The new batch must be usable now like any other (IN-6)."""
        given = next(
            (a for a in self.administrations if a.administration_id == administration_id), None
        )
        if given is None:
            raise NotFound(
                f"No dose {administration_id} for this patient.", code="administration_not_found"
            )
        if given.unit_id != place.unit_id:
            raise Forbidden("A dose is corrected at the unit that gave it.", code="other_unit")
        new_batch = given.batch_id if batch is None else batch.batch_id
        new_number = given.dose_number if dose_number is None else dose_number
        if (new_batch, new_number) == (given.batch_id, given.dose_number):
            raise invalid("batch_id", "unchanged", "Name the batch or dose number it should be.")
        if batch is not None and batch.batch_id != given.batch_id:
            if batch.unit_id != place.unit_id:
                raise invalid("batch_id", "other_unit", "This batch is another unit's stock.")
            if batch.vaccine_id != given.vaccine_id:
                raise invalid(
                    "batch_id",
                    "wrong_vaccine",
                    f"Batch {batch.batch_number} is not {vaccine_of(given.vaccine_id).name}.",
                )
            if batch.expires_on < local_day(given.administered_at):
                raise Conflict(
                    f"Batch {batch.batch_number} had expired when the dose was given.",
                    code="batch_expired",
                )
        if new_number != given.dose_number and any(
            d.dose_number == new_number for d in self.given()
        ):
            raise Conflict(
                f"Dose {new_number} is already recorded for the patient.",
                code="dose_already_given",
            )
        corrected = replace(
            given,
            batch_id=new_batch,
            batch_number=given.batch_number if batch is None else batch.batch_number,
            dose_number=new_number,
            revision=given.revision + 1,
            corrected_at=now,
            corrected_by_hsa_id=place.hsa_id,
            correction_reason=reason,
        )
        self.administrations[self.administrations.index(given)] = corrected
        self.corrected.append(corrected)
        vaccine = vaccine_of(given.vaccine_id)
        self.events.append(
            AdministrationCorrected(
                patient_id=self.patient_id,
                administration_id=administration_id,
                revision=corrected.revision,
                reason=reason,
                corrected_at=now,
                corrected_by_hsa_id=place.hsa_id,
                previous_batch_id=given.batch_id,
                previous_dose_number=given.dose_number,
                vaccine_id=given.vaccine_id,
                vaccine_name=vaccine.name,
                atc_code=vaccine.atc_code,
                dose_number=new_number,
                batch_id=corrected.batch_id,
                batch_number=corrected.batch_number,
                unit_id=given.unit_id,
                care_provider_id=given.care_provider_id,
                administered_at=given.administered_at,
                vaccinator_hsa_id=given.vaccinator_hsa_id,
            )
        )
        return corrected

    def record_history(
        self,
        historical_dose_id: str,
        vaccine: Vaccine,
        dose_number: int,
        given_on: date,
        country: str | None,
        comment: str,
        place: Place,
        now: datetime,
    ) -> HistoricalDose:
        """A dose given abroad or elsewhere (JR-5), under the dose number it had, whatever
        held the doses before it (JR-9). Never reported to NVR; its comment tells the
        control report's reader where it came from."""
        if given_on > local_day(now):
            raise invalid("given_on", "in_future", "A dose given elsewhere has a past date.")
        self._check_dose_free(dose_number)
        dose = HistoricalDose(
            historical_dose_id=historical_dose_id,
            patient_id=self.patient_id,
            vaccine_id=vaccine.vaccine_id,
            dose_number=dose_number,
            given_on=given_on,
            country=country,
            comment=comment,
            unit_id=place.unit_id,
            care_provider_id=place.care_provider_id,
            recorded_at=now,
            recorded_by_hsa_id=place.hsa_id,
        )
        self.history.append(dose)
        self.new_history.append(dose)
        self.events.append(
            HistoricalDoseRecorded(
                patient_id=self.patient_id,
                historical_dose_id=historical_dose_id,
                vaccine_id=vaccine.vaccine_id,
                vaccine_name=vaccine.name,
                dose_number=dose_number,
                given_on=given_on,
                country=country,
                comment=comment,
                unit_id=place.unit_id,
                care_provider_id=place.care_provider_id,
                recorded_at=now,
                recorded_by_hsa_id=place.hsa_id,
                next_dose_from=vaccine.next_dose_from(dose_number, given_on),
            )
        )
        return dose
