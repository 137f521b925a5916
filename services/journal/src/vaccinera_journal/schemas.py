"""Request and response bodies of the journal's API, and the mappers between them and the
domain. Requests become the domain's objects here (``to_*``); answers are built by the
``*_out`` functions at the end."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vaccinera_journal.domain import (
    Administration,
    Given,
    HistoricalDose,
    Order,
    Vaccine,
    VaccineChange,
)
from vaccinera_journal.services.reads import RecordView
from vaccinera_journal.services.records import Given as GivenNow
from vaccinera_journal.services.records import Ordered, Recorded
from vaccinera_journal.store import Declaration

ID_PATTERN = r"^[\w.:-]{1,100}$"
Id = Annotated[str, Field(pattern=ID_PATTERN)]
VaccineId = Annotated[str, Field(pattern=ID_PATTERN, examples=["vaccine-comirnaty"])]
# Printable text: no control characters (a NUL cannot even be stored).
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"


Name = Annotated[
    str, Field(min_length=1, max_length=200, pattern=TEXT_PATTERN, examples=["Vaxzevria"])
]
Manufacturer = Annotated[
    str, Field(min_length=1, max_length=200, pattern=TEXT_PATTERN, examples=["AstraZeneca AB"])
]
# WHO ATC code of a vaccine, e.g. J07BN01.
AtcCode = Annotated[str, Field(pattern=r"^[A-Z]\d{2}[A-Z]{2}\d{2}$", examples=["J07BN01"])]
DosesInSeries = Annotated[int, Field(ge=1, le=10)]
IntervalDays = Annotated[int, Field(ge=0, le=3650)]
DoseNumber = Annotated[int, Field(ge=1, le=20, examples=[2])]
PatientGroup = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        pattern=TEXT_PATTERN,
        examples=["Personal inom vård och omsorg"],
    ),
]
Reason = Annotated[
    str,
    Field(
        min_length=1,
        max_length=500,
        pattern=TEXT_PATTERN,
        examples=["Byte till mRNA-vaccin för dos 2"],
    ),
]
Comment = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1000,
        pattern=TEXT_PATTERN,
        examples=["Dos 1 och 2 givna i Norge enligt vaccinationskort"],
    ),
]
Country = Annotated[str, Field(pattern=r"^[A-Z]{2}$", examples=["NO"])]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- catalogue ------------------------------------------------------------------------------


class VaccineIn(Strict):
    vaccine_id: VaccineId
    name: Name
    manufacturer: Manufacturer
    atc_code: AtcCode
    doses_in_series: DosesInSeries
    min_interval_days: IntervalDays | None = Field(
        default=None, description="Days from a dose of the series to the next; none if null."
    )

    def to_vaccine(self) -> Vaccine:
        return Vaccine(
            self.vaccine_id,
            self.name,
            self.manufacturer,
            self.atc_code,
            self.doses_in_series,
            self.min_interval_days,
        )


class VaccineChangeIn(Strict):
    """What to change; a field left out stays as it is. A new name shows on past
    vaccinations, orders and checked-in batches (JR-1)."""

    name: Name | None = None
    manufacturer: Manufacturer | None = None
    atc_code: AtcCode | None = None
    doses_in_series: DosesInSeries | None = None
    min_interval_days: IntervalDays | None = None
    no_min_interval: bool = Field(default=False, description="Remove the minimum interval.")

    @model_validator(mode="after")
    def _something(self) -> VaccineChangeIn:
        if not self.model_fields_set:
            raise ValueError("Name at least one thing to change.")
        return self

    def to_change(self) -> VaccineChange:
        return VaccineChange(
            self.name,
            self.manufacturer,
            self.atc_code,
            self.doses_in_series,
            self.min_interval_days,
            self.no_min_interval,
        )


class VaccineOut(BaseModel):
    vaccine_id: str
    name: str
    manufacturer: str
    atc_code: str
    doses_in_series: int
    min_interval_days: int | None


class CatalogueOut(BaseModel):
    vaccines: list[VaccineOut]


# --- orders and doses -------------------------------------------------------------------------


class OrderIn(Strict):
    """ "Signera ordination" (JR-2). Doses 1 and 2 together: ``dose_numbers: [1, 2]``."""

    vaccine_id: VaccineId | None = Field(
        default=None,
        description="Left out for a later dose: the previous dose's vaccine (dose 2 follows "
        "dose 1). A first dose names it; the unit's quick list gives the form's default.",
    )
    dose_numbers: list[DoseNumber] = Field(min_length=1, max_length=5, examples=[[1, 2]])
    patient_group: PatientGroup | None = None
    replaces_order_id: Id | None = Field(
        default=None, description="A voided order this one takes over; keeps its dose number."
    )


class VoidIn(Strict):
    reason: Reason


class AdministerIn(Strict):
    """ "Signera administrering" (JR-4): the batch from the unit's usable batches."""

    batch_id: Id
    booking_id: Id | None = Field(
        default=None, description="The visit, whose health declaration the dose is given on."
    )


class OrderAndAdministerIn(Strict):
    """ "Signera ordination och administrering" (JR-4): a nurse with prescribing rights."""

    vaccine_id: VaccineId | None = None
    dose_number: DoseNumber
    patient_group: PatientGroup | None = None
    batch_id: Id
    booking_id: Id | None = None


class CorrectionIn(Strict):
    """A dose signed with the wrong batch or dose number (the vaccine stays), and why."""

    batch_id: Id | None = Field(default=None, description="The batch it was given from.")
    dose_number: DoseNumber | None = None
    reason: Reason

    @model_validator(mode="after")
    def _something(self) -> CorrectionIn:
        if self.batch_id is None and self.dose_number is None:
            raise ValueError("Name the batch or the dose number it should be.")
        return self


class HistoricalDoseIn(Strict):
    """A dose given abroad or elsewhere (JR-5), under its own dose number (JR-9)."""

    vaccine_id: VaccineId
    dose_number: DoseNumber
    given_on: date
    country: Country | None = Field(default=None, description="ISO 3166-1 alpha-2 code.")
    comment: Comment


class OrderOut(BaseModel):
    order_id: str
    patient_id: str
    vaccine_id: str
    vaccine_name: str
    dose_number: int
    patient_group: str | None
    unit_id: str
    care_provider_id: str
    ordered_at: datetime
    prescriber_hsa_id: str
    replaces_order_id: str | None
    status: Literal["ordered", "voided", "administered"]
    voided_at: datetime | None
    voided_by_hsa_id: str | None
    void_reason: str | None


class OrdersOut(BaseModel):
    orders: list[OrderOut]


class AnswerOut(BaseModel):
    question: str
    answer: str
    comment: str | None


class DeclarationOut(BaseModel):
    declaration_id: str
    submitted_at: datetime
    answers: list[AnswerOut]


class VaccinationOut(BaseModel):
    """A dose the patient has had: given here ("administered") or elsewhere ("historical")."""

    kind: Literal["administered", "historical"]
    id: str
    vaccine_id: str
    vaccine_name: str = Field(description="The catalogue's current name (JR-1).")
    dose_number: int
    given_on: date
    unit_id: str
    care_provider_id: str
    administered_at: datetime | None = None
    order_id: str | None = None
    batch_id: str | None = None
    batch_number: str | None = None
    vaccinator_hsa_id: str | None = None
    revision: int | None = Field(default=None, description="2 and on: corrected (RX-1).")
    correction_reason: str | None = None
    health_declaration: DeclarationOut | None = None
    country: str | None = None
    comment: str | None = None


class AdministrationOut(VaccinationOut):
    orders: list[OrderOut] = Field(description="The order given; two if ordered in this step.")
    next_dose_from: date | None = Field(
        description="The first day the next dose of the series may be given (BK-10)."
    )


class NextDoseOut(BaseModel):
    dose_number: int
    default_vaccine_id: str | None = Field(
        description="The previous dose's vaccine; null for a first dose (take the unit's "
        "quick list's first)."
    )


class RecordOut(BaseModel):
    patient_id: str
    identifier: str | None
    orders: list[OrderOut] = Field(description="Of the reader's care provider (AC-5).")
    vaccinations: list[VaccinationOut]
    other_providers_records: int = Field(
        description="Entries of other care providers, shown through shared record access "
        "after the patient's consent (JR-8)."
    )
    next_dose: NextDoseOut


class SharedRecordOut(BaseModel):
    patient_id: str
    consent: bool = Field(description="The patient consented for the reader's care provider.")
    orders: list[OrderOut]
    vaccinations: list[VaccinationOut]
    not_shown: int = Field(description="Entries there are, shown after consent (JR-8).")


# --- answers ----------------------------------------------------------------------------------


def vaccine_out(v: Vaccine) -> VaccineOut:
    return VaccineOut(
        vaccine_id=v.vaccine_id,
        name=v.name,
        manufacturer=v.manufacturer,
        atc_code=v.atc_code,
        doses_in_series=v.doses_in_series,
        min_interval_days=v.min_interval_days,
    )


def order_out(o: Order, names: dict[str, str]) -> OrderOut:
    return OrderOut(
        order_id=o.order_id,
        patient_id=o.patient_id,
        vaccine_id=o.vaccine_id,
        vaccine_name=names.get(o.vaccine_id, o.vaccine_id),
        dose_number=o.dose_number,
        patient_group=o.patient_group,
        unit_id=o.unit_id,
        care_provider_id=o.care_provider_id,
        ordered_at=o.ordered_at,
        prescriber_hsa_id=o.prescriber_hsa_id,
        replaces_order_id=o.replaces_order_id,
        status=o.status,
        voided_at=o.voided_at,
        voided_by_hsa_id=o.voided_by_hsa_id,
        void_reason=o.void_reason,
    )


def declaration_out(d: Declaration | None) -> DeclarationOut | None:
    if d is None:
        return None
    return DeclarationOut(
        declaration_id=d.declaration_id,
        submitted_at=d.submitted_at,
        answers=[
            AnswerOut(question=a.question, answer=a.answer, comment=a.comment) for a in d.answers
        ],
    )


def vaccination_out(
    dose: Given, names: dict[str, str], declarations: dict[str, Declaration] | None = None
) -> VaccinationOut:
    name = names.get(dose.vaccine_id, dose.vaccine_id)
    if isinstance(dose, HistoricalDose):
        return VaccinationOut(
            kind="historical",
            id=dose.historical_dose_id,
            vaccine_id=dose.vaccine_id,
            vaccine_name=name,
            dose_number=dose.dose_number,
            given_on=dose.given_on,
            unit_id=dose.unit_id,
            care_provider_id=dose.care_provider_id,
            country=dose.country,
            comment=dose.comment,
        )
    declaration = (declarations or {}).get(dose.declaration_id or "")
    return VaccinationOut(
        kind="administered",
        id=dose.administration_id,
        vaccine_id=dose.vaccine_id,
        vaccine_name=name,
        dose_number=dose.dose_number,
        given_on=dose.given_on,
        unit_id=dose.unit_id,
        care_provider_id=dose.care_provider_id,
        administered_at=dose.administered_at,
        order_id=dose.order_id,
        batch_id=dose.batch_id,
        batch_number=dose.batch_number,
        vaccinator_hsa_id=dose.vaccinator_hsa_id,
        revision=dose.revision,
        correction_reason=dose.correction_reason,
        health_declaration=declaration_out(declaration),
    )


def administration_out(given: GivenNow) -> AdministrationOut:
    names = {given.vaccine.vaccine_id: given.vaccine.name}
    dose: Administration = given.administration
    base = vaccination_out(dose, names)
    return AdministrationOut(
        **base.model_dump(),
        orders=[order_out(o, names) for o in given.orders],
        next_dose_from=given.vaccine.next_dose_from(dose.dose_number, dose.given_on),
    )


def record_out(view: RecordView, *, with_declarations: bool) -> RecordOut:
    names = {v.vaccine_id: v.name for v in view.vaccines.values()}
    declarations = view.declarations if with_declarations else {}
    number, default = view.next_dose()
    return RecordOut(
        patient_id=view.patient_id,
        identifier=view.identifier,
        orders=[order_out(o, names) for o in view.orders.own],
        vaccinations=[vaccination_out(d, names, declarations) for d in view.given.own],
        other_providers_records=view.orders.not_shown + view.given.not_shown,
        next_dose=NextDoseOut(dose_number=number, default_vaccine_id=default),
    )


def shared_record_out(view: RecordView) -> SharedRecordOut:
    names = {v.vaccine_id: v.name for v in view.vaccines.values()}
    return SharedRecordOut(
        patient_id=view.patient_id,
        consent=view.consent,
        orders=[order_out(o, names) for o in view.orders.shared],
        vaccinations=[vaccination_out(d, names, view.declarations) for d in view.given.shared],
        not_shown=view.orders.not_shown + view.given.not_shown,
    )


def orders_out(ordered: Ordered) -> OrdersOut:
    names = {ordered.vaccine.vaccine_id: ordered.vaccine.name}
    return OrdersOut(orders=[order_out(o, names) for o in ordered.orders])


def historical_out(recorded: Recorded) -> VaccinationOut:
    return vaccination_out(recorded.dose, {recorded.vaccine.vaccine_id: recorded.vaccine.name})
