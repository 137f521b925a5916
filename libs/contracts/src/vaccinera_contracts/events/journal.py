"""Events published by the journal service on ``vaccinera.journal.v1``.

Orders, administrations and historical doses are keyed by patient id, so one patient's record
keeps its order (an order, its void, the new order, the dose given). ``VaccineRenamed`` is keyed
by vaccine id. No event carries a name or an identifier of the patient: consumers that report
under the identifier (the registry export) keep it from identity's events.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

from pydantic import Field

from vaccinera_contracts import topics
from vaccinera_contracts.envelope import DomainEvent


class _PatientRecordEvent(DomainEvent):
    topic: ClassVar[str] = topics.JOURNAL

    patient_id: str

    def aggregate_key(self) -> str:
        return self.patient_id


class DoseOrdered(_PatientRecordEvent):
    """A vaccination was ordered ("ordination", JR-2) by a doctor or a nurse with prescribing
    rights. ``replaces_order_id`` names the voided order a new one takes over, keeping its
    dose number (JR-3: dose 2 of another vaccine after a void)."""

    event_type: ClassVar[str] = "journal.DoseOrdered"

    order_id: str
    vaccine_id: str
    vaccine_name: str
    dose_number: int = Field(ge=1)
    patient_group: str | None = None
    unit_id: str
    care_provider_id: str
    ordered_at: datetime
    prescriber_hsa_id: str
    replaces_order_id: str | None = None


class OrderVoided(_PatientRecordEvent):
    """An order was voided ("makulerad", JR-3). The reason stays in the journal."""

    event_type: ClassVar[str] = "journal.OrderVoided"

    order_id: str
    vaccine_id: str
    dose_number: int = Field(ge=1)
    unit_id: str
    care_provider_id: str
    voided_at: datetime
    voided_by_hsa_id: str


class DoseAdministered(_PatientRecordEvent):
    """A dose was given and signed (JR-4): vaccine, batch from the unit's stock, dose number,
    time, unit and vaccinator. Inventory lowers the batch's balance by one per administration
    id (IN-2); the registry export reports it to NVR (RX-1)."""

    event_type: ClassVar[str] = "journal.DoseAdministered"

    administration_id: str
    order_id: str | None = None
    vaccine_id: str
    vaccine_name: str
    dose_number: int = Field(ge=1)
    batch_id: str
    batch_number: str
    unit_id: str
    care_provider_id: str
    administered_at: datetime
    vaccinator_hsa_id: str
    # The vaccine's ATC code in the catalogue (JR-1): the registers' vaccine code (RX-1).
    atc_code: str | None = None
    # The first day the next dose of the series may be given (the catalogue's minimum
    # interval, JR-1); None when the series is complete. Booking refuses an earlier dose-2
    # time with it (BK-10).
    next_dose_from: date | None = None


class AdministrationCorrected(_PatientRecordEvent):
    """A given dose's record was corrected (JR-4: the wrong batch or dose number was signed),
    with the reason: the dose as it now stands, at revision ``revision``. Inventory moves the
    dose from the previous batch to this one (IN-2); the registry export reports the dose
    again as a new version (RX-1)."""

    event_type: ClassVar[str] = "journal.AdministrationCorrected"

    administration_id: str
    revision: int = Field(ge=2)
    reason: str
    corrected_at: datetime
    corrected_by_hsa_id: str
    previous_batch_id: str
    previous_dose_number: int = Field(ge=1)
    vaccine_id: str
    vaccine_name: str
    atc_code: str | None = None
    dose_number: int = Field(ge=1)
    batch_id: str
    batch_number: str
    unit_id: str
    care_provider_id: str
    administered_at: datetime
    vaccinator_hsa_id: str


class HistoricalDoseRecorded(_PatientRecordEvent):
    """A dose given abroad or elsewhere was entered as history (JR-5, JR-9): no batch, never
    reported to NVR, listed with its comment in the control report (RX-3) of the unit that
    entered it."""

    event_type: ClassVar[str] = "journal.HistoricalDoseRecorded"

    historical_dose_id: str
    vaccine_id: str
    vaccine_name: str
    dose_number: int = Field(ge=1)
    given_on: date
    # ISO 3166-1 alpha-2 code of the country it was given in, when known.
    country: str | None = None
    comment: str | None = None
    unit_id: str
    care_provider_id: str
    recorded_at: datetime
    recorded_by_hsa_id: str
    # As on ``DoseAdministered`` (BK-10).
    next_dose_from: date | None = None


class VaccineRenamed(DomainEvent):
    """A vaccine of the catalogue got a new name (JR-1), e.g. "COVID-19 Vaccine AstraZeneca"
    to "Vaxzevria" on 2021-05-09: past vaccinations and checked-in batches show the new name."""

    event_type: ClassVar[str] = "journal.VaccineRenamed"
    topic: ClassVar[str] = topics.JOURNAL

    vaccine_id: str
    name: str = Field(min_length=1)
    previous_name: str
    renamed_at: datetime

    def aggregate_key(self) -> str:
        return self.vaccine_id
