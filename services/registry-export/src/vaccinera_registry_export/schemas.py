"""Request and response bodies of the registry export's API, and the mappers to them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vaccinera_registry_export.domain.statistics import share

STOCK_FIGURES = ("usable", "expired", "delivered", "administered", "discarded", "corrected")

Receiver = Literal["nvr", "npo"]
State = Literal["pending", "acknowledged", "failed", "superseded"]


class ControlEntryOut(BaseModel):
    historical_dose_id: str
    patient_id: str
    vaccine_name: str
    dose_number: int
    given_on: date
    country: str | None
    comment: str | None
    recorded_at: datetime
    recorded_by_hsa_id: str


class ControlReportOut(BaseModel):
    unit_id: str
    start: datetime
    end: datetime
    entries: list[ControlEntryOut] = Field(
        description="Doses entered as history at the unit in the period, never reported to "
        "NVR (JR-5), with the comment saying where they were given."
    )


class ReportOut(BaseModel):
    report_id: int
    administration_id: str
    receiver: Receiver
    version: int
    state: State
    attempts: int
    due_at: datetime
    answer_status: int | None = Field(description="The receiver's last answer's status.")
    answer: str | None = Field(description="Why it failed or is retried, as the receiver said.")
    receiver_ref: str | None
    created_at: datetime
    acknowledged_at: datetime | None


class CountOut(BaseModel):
    receiver: Receiver
    state: State
    reports: int


class RunOut(BaseModel):
    run_id: int
    receiver: Receiver
    requested_by: str | None
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    sent: int
    failed: int


class ReportsOut(BaseModel):
    counts: list[CountOut]
    reports: list[ReportOut]
    nvr_runs: list[RunOut] = Field(description="The latest NVR runs, newest first.")


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    receiver: Literal["nvr"] = Field(
        default="nvr", description="NVR is reported in runs; NPÖ gets each dose as it happens."
    )


class RunRequestedOut(BaseModel):
    run_id: int
    receiver: Receiver


def _fields(row: Any, model: type[BaseModel]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in model.model_fields}


def control_report_out(
    unit_id: str, start: datetime, end: datetime, rows: list[Any]
) -> ControlReportOut:
    return ControlReportOut(
        unit_id=unit_id,
        start=start,
        end=end,
        entries=[ControlEntryOut(**_fields(r, ControlEntryOut)) for r in rows],
    )


def reports_out(counts: dict[tuple[str, str], int], rows: list[Any], runs: list[Any]) -> ReportsOut:
    return ReportsOut(
        counts=[CountOut(receiver=r, state=s, reports=n) for (r, s), n in sorted(counts.items())],
        reports=[ReportOut(**_fields(r, ReportOut)) for r in rows],
        nvr_runs=[RunOut(**_fields(r, RunOut)) for r in runs],
    )


# --- statistics for regional infection control (RX-4) --------------------------------------------


class CoverageRowOut(BaseModel):
    key: str | None = Field(
        description="The unit's or care provider's id (where the dose was given), 'region', "
        "the municipality's code or the age band (the person's). Null: persons the register "
        "does not place at this level (reserve numbers, persons it does not know and, by "
        "municipality, protected persons), with no population."
    )
    name: str | None = Field(description="The municipality's name.")
    vaccine_id: str
    vaccine_name: str
    dose_number: int
    persons: int = Field(
        description="Persons with at least this dose of the vaccine, each counted once: by "
        "unit and care provider the doses given there; otherwise also doses entered as "
        "history (given abroad or elsewhere)."
    )
    population: int | None = Field(
        description="Persons of the population register here (by region, municipality and "
        "age band); null by unit and care provider."
    )
    share: float | None = Field(description="persons / population, 0..1 to four decimals.")


class CoverageOut(BaseModel):
    by: str
    vaccine_id: str | None
    dose_number: int | None
    population_counted_at: datetime | None = Field(
        description="When the population register was counted (null: not yet)."
    )
    ages_on: date = Field(description="Ages are whole years on this day, the count's.")
    rows: list[CoverageRowOut]


class StockRowOut(BaseModel):
    key: str = Field(description="The unit's or care provider's id, or 'region'.")
    care_provider_id: str | None = Field(description="The unit's care provider (by unit).")
    vaccine_id: str
    vaccine_name: str
    balance: int = Field(description="Doses in stock now: usable and expired together.")
    usable: int = Field(description="Doses now in batches not past their expiry day.")
    expired: int = Field(description="Doses now in batches past their expiry day (to discard).")
    delivered: int = Field(description="Doses checked in during the period.")
    administered: int = Field(description="Doses administered during the period.")
    discarded: int = Field(description="Doses discarded during the period.")
    corrected: int = Field(description="Net change by corrections after counts in the period.")


class StockOut(BaseModel):
    by: str
    start: date = Field(serialization_alias="from", description="The period's first day.")
    end: date = Field(serialization_alias="to", description="The period's last day (included).")
    rows: list[StockRowOut]


def coverage_out(
    by: str,
    vaccine_id: str | None,
    dose_number: int | None,
    counted_at: datetime | None,
    ages_on: date,
    rows: list[Any],
) -> CoverageOut:
    return CoverageOut(
        by=by,
        vaccine_id=vaccine_id,
        dose_number=dose_number,
        population_counted_at=counted_at,
        ages_on=ages_on,
        rows=[
            CoverageRowOut(
                key=r.key,
                name=r.name,
                vaccine_id=r.vaccine_id,
                vaccine_name=r.vaccine_name,
                dose_number=r.dose_number,
                persons=r.persons,
                population=r.population,
                share=share(r.persons, r.population),
            )
            for r in rows
        ],
    )


def stock_out(by: str, first: date, last: date, rows: list[Any]) -> StockOut:
    return StockOut(
        by=by,
        start=first,
        end=last,
        rows=[
            StockRowOut(
                key=r.key,
                care_provider_id=getattr(r, "care_provider_id", None),
                vaccine_id=r.vaccine_id,
                vaccine_name=r.vaccine_name,
                balance=r.usable + r.expired,
                **{name: getattr(r, name) for name in STOCK_FIGURES},
            )
            for r in rows
        ],
    )
