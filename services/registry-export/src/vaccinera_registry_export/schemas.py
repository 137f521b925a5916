"""Request and response bodies of the registry export's API, and the mappers to them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
