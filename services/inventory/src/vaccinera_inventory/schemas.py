"""Request and response bodies of the inventory's API, and the mappers between them and the
domain. Requests become the domain's objects here (``to_*``); answers are built by the
``*_out`` functions at the end."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from vaccinera_inventory.domain import (
    MAX_DOSES,
    MAX_ENTRIES,
    Batch,
    Delivery,
    Figures,
    Level,
    LowStockLevel,
    Period,
    QuickList,
    Vaccine,
    VaccineStock,
)
from vaccinera_inventory.services.batches import BatchView
from vaccinera_inventory.store import DiscrepancyRow

ID_PATTERN = r"^[\w.:-]{1,100}$"
VaccineId = Annotated[str, Field(pattern=ID_PATTERN, examples=["vaccine-comirnaty"])]
# Printable text: no control characters (a NUL cannot even be stored).
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"
VaccineName = Annotated[
    str, Field(min_length=1, max_length=200, pattern=TEXT_PATTERN, examples=["Comirnaty"])
]
Doses = Annotated[int, Field(ge=1, le=MAX_DOSES)]
Reason = Annotated[
    str,
    Field(
        min_length=1,
        max_length=500,
        pattern=TEXT_PATTERN,
        examples=["Bruten kylkedja", "Tappad flaska"],
    ),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class DeliveryIn(Strict):
    """A delivery to check in ("inkvittera", IN-1)."""

    vaccine_id: VaccineId
    vaccine_name: VaccineName = Field(description="Used if the inventory has not met it yet.")
    batch_number: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 ./-]{0,39}$",
        examples=["FE3592"],
        description="As printed on the package; stored in capitals.",
    )
    expires_on: date = Field(description="Usable through this day.")
    doses: Doses

    def to_delivery(self) -> Delivery:
        return Delivery(
            Vaccine(self.vaccine_id, self.vaccine_name),
            self.batch_number.upper(),
            self.expires_on,
            self.doses,
        )


class DiscardIn(Strict):
    doses: Doses
    reason: Reason


class CorrectionIn(Strict):
    counted: int = Field(ge=0, le=MAX_DOSES, description="The doses counted in the batch.")
    reason: Reason


class LowStockLevelIn(Strict):
    level: int = Field(
        ge=0, le=MAX_DOSES, description="Warn when the usable doses are this many or fewer."
    )


class QuickListVaccineIn(Strict):
    vaccine_id: VaccineId
    vaccine_name: VaccineName = Field(description="Used if the inventory has not met it yet.")


class QuickListIn(Strict):
    vaccines: list[QuickListVaccineIn] = Field(
        max_length=MAX_ENTRIES, description="In order; the first is the order form's default."
    )

    def to_vaccines(self) -> list[Vaccine]:
        return [Vaccine(v.vaccine_id, v.vaccine_name) for v in self.vaccines]


class BatchOut(BaseModel):
    batch_id: str
    unit_id: str
    care_provider_id: str
    vaccine_id: str
    vaccine_name: str
    batch_number: str
    expires_on: date
    balance: int
    delivered: int
    usable: bool = Field(description="May be picked for an administration now (IN-6).")
    expired: bool


class MovementOut(BaseModel):
    change: str
    delta: int
    balance: int
    reason: str | None
    by_hsa_id: str | None
    administration_id: str | None
    delivery_id: str | None
    at: datetime


class BatchDetailOut(BatchOut):
    movements: list[MovementOut] = Field(description="Newest first.")


class LowStockWarning(BaseModel):
    vaccine_id: str
    vaccine_name: str
    usable_doses: int
    level: int
    message: str


class VaccineStockOut(BaseModel):
    vaccine_id: str
    vaccine_name: str
    usable_doses: int
    expired_doses: int = Field(description="In expired batches: to be discarded.")
    low_stock_level: int | None
    low_stock: bool
    batches: list[BatchOut]


class UnitStockOut(BaseModel):
    unit_id: str
    vaccines: list[VaccineStockOut]
    warnings: list[LowStockWarning]


class UsableBatchesOut(BaseModel):
    unit_id: str
    batches: list[BatchOut] = Field(description="Per vaccine, the first to expire first.")


class DiscrepancyOut(BaseModel):
    administration_id: str
    batch_id: str
    vaccine_id: str
    administered_at: datetime
    kind: str = Field(
        description="empty: the batch had no doses left; unknown_batch: no such batch here; "
        "expired: given from an expired batch (subtracted)."
    )
    subtracted: bool
    recorded_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None


class DiscrepanciesOut(BaseModel):
    unit_id: str
    open: int
    discrepancies: list[DiscrepancyOut]


class LowStockLevelOut(BaseModel):
    unit_id: str
    vaccine_id: str
    level: int
    low: bool


class QuickListVaccineOut(BaseModel):
    position: int
    vaccine_id: str
    vaccine_name: str


class QuickListOut(BaseModel):
    unit_id: str
    default_vaccine_id: str | None = Field(description="Preselected in the order form.")
    vaccines: list[QuickListVaccineOut]


class FiguresOut(BaseModel):
    unit_id: str | None = None
    care_provider_id: str | None = None
    vaccine_id: str
    vaccine_name: str
    usable_doses: int
    expired_doses: int
    delivered: int
    administered: int
    discarded: int
    corrected: int


class OverviewOut(BaseModel):
    level: Level
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    rows: list[FiguresOut]


# --- mappers: the domain's objects as the API shows them ---------------------------------------


def batch_out(batch: Batch, today: date) -> BatchOut:
    return BatchOut(
        batch_id=batch.batch_id,
        unit_id=batch.unit_id,
        care_provider_id=batch.care_provider_id,
        vaccine_id=batch.vaccine.vaccine_id,
        vaccine_name=batch.vaccine.name,
        batch_number=batch.batch_number,
        expires_on=batch.expires_on,
        balance=batch.balance,
        delivered=batch.delivered,
        usable=batch.usable(today),
        expired=batch.expired(today),
    )


def batch_json(today: date) -> Any:
    """The answer as stored for an Idempotency-Key's replay."""

    def to_json(batch: Batch) -> dict[str, Any]:
        return batch_out(batch, today).model_dump(mode="json")

    return to_json


def batch_answer(answer: Batch | dict[str, Any], today: date) -> BatchOut:
    return (
        batch_out(answer, today) if isinstance(answer, Batch) else BatchOut.model_validate(answer)
    )


def batch_detail_out(view: BatchView, today: date) -> BatchDetailOut:
    return BatchDetailOut(
        **batch_out(view.batch, today).model_dump(),
        movements=[MovementOut.model_validate(m, from_attributes=False) for m in view.movements],
    )


def unit_stock_out(unit_id: str, stock: list[VaccineStock], today: date) -> UnitStockOut:
    vaccines = [
        VaccineStockOut(
            vaccine_id=s.vaccine.vaccine_id,
            vaccine_name=s.vaccine.name,
            usable_doses=s.usable_doses,
            expired_doses=s.expired_doses,
            low_stock_level=s.level,
            low_stock=s.low,
            batches=[batch_out(b, today) for b in s.batches],
        )
        for s in stock
    ]
    warnings = [
        LowStockWarning(
            vaccine_id=s.vaccine.vaccine_id,
            vaccine_name=s.vaccine.name,
            usable_doses=s.usable_doses,
            level=s.level,
            message=f"Lågt saldo: {s.vaccine.name}, {s.usable_doses} användbara doser "
            f"(varningsnivå {s.level}).",
        )
        for s in stock
        if s.low and s.level is not None
    ]
    return UnitStockOut(unit_id=unit_id, vaccines=vaccines, warnings=warnings)


def usable_out(unit_id: str, batches: list[Batch], today: date) -> UsableBatchesOut:
    return UsableBatchesOut(unit_id=unit_id, batches=[batch_out(b, today) for b in batches])


def discrepancies_out(unit_id: str, rows: list[DiscrepancyRow]) -> DiscrepanciesOut:
    return DiscrepanciesOut(
        unit_id=unit_id,
        open=sum(1 for r in rows if r.resolved_at is None),
        discrepancies=[
            DiscrepancyOut(
                administration_id=r.administration_id,
                batch_id=r.batch_id,
                vaccine_id=r.vaccine_id,
                administered_at=r.administered_at,
                kind=r.discrepancy,
                subtracted=r.decremented,
                recorded_at=r.recorded_at,
                resolved_at=r.resolved_at,
                resolved_by=r.resolved_by,
            )
            for r in rows
        ],
    )


def level_out(level: LowStockLevel) -> LowStockLevelOut:
    return LowStockLevelOut(
        unit_id=level.unit_id, vaccine_id=level.vaccine_id, level=level.level, low=level.low
    )


def quick_list_out(quick_list: QuickList) -> QuickListOut:
    default = quick_list.default
    return QuickListOut(
        unit_id=quick_list.unit_id,
        default_vaccine_id=default.vaccine_id if default else None,
        vaccines=[
            QuickListVaccineOut(position=i, vaccine_id=v.vaccine_id, vaccine_name=v.name)
            for i, v in enumerate(quick_list.vaccines, start=1)
        ],
    )


def overview_out(level: Level, period: Period, figures: list[Figures]) -> OverviewOut:
    return OverviewOut(
        level=level,
        start=period.start,
        end=period.end,
        rows=[FiguresOut(**vars(f)) for f in figures],
    )
