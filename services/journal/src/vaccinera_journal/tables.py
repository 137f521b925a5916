"""The journal's tables (PostgreSQL): the vaccine catalogue; each patient's orders,
administrations and doses given elsewhere; and what the journal keeps from other services'
events: patients' identifiers, blocks and consents (identity), health declarations
(booking) and the batches it may give doses from (inventory).

The database keeps what must hold under any concurrency: an order is given at most once
(``uq_administrations_order_id``), and a batch's doses on hand here never go below zero
(``ck_batches_available_not_negative``): the last dose of a batch goes to one nurse only.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from vaccinera_kit.database import service_metadata

metadata = service_metadata()

# As the domain's Order.status.
ORDER_STATUSES = "'ordered', 'voided', 'administered'"


def _at(name: str, *, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


vaccines = Table(
    "vaccines",
    metadata,
    Column("vaccine_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("manufacturer", Text, nullable=False),
    Column("atc_code", Text, nullable=False),
    Column("doses_in_series", Integer, nullable=False),
    # Days from a dose of the series to the next (JR-1, BK-10); null: no minimum.
    Column("min_interval_days", Integer, nullable=True),
    _at("changed_at"),
    Column("changed_by", Text, nullable=True),
    CheckConstraint("doses_in_series >= 1", name="doses_in_series_positive"),
    CheckConstraint("min_interval_days >= 0", name="min_interval_not_negative"),
)

orders = Table(
    "orders",
    metadata,
    Column("order_id", Text, primary_key=True),
    Column("patient_id", Text, nullable=False),
    Column("vaccine_id", Text, ForeignKey("vaccines.vaccine_id"), nullable=False),
    Column("dose_number", Integer, nullable=False),
    Column("patient_group", Text, nullable=True),
    Column("unit_id", Text, nullable=False),
    Column("care_provider_id", Text, nullable=False),
    _at("ordered_at"),
    Column("prescriber_hsa_id", Text, nullable=False),
    Column("replaces_order_id", Text, nullable=True),
    Column("status", Text, nullable=False),
    _at("voided_at", nullable=True),
    Column("voided_by_hsa_id", Text, nullable=True),
    Column("void_reason", Text, nullable=True),
    CheckConstraint(f"status IN ({ORDER_STATUSES})", name="status"),
    CheckConstraint("dose_number >= 1", name="dose_number_positive"),
    # A patient's record is read whole, in order.
    Index("ix_orders_patient_id_ordered_at", "patient_id", "ordered_at"),
)

administrations = Table(
    "administrations",
    metadata,
    Column("administration_id", Text, primary_key=True),
    Column("patient_id", Text, nullable=False),
    Column("order_id", Text, ForeignKey("orders.order_id"), nullable=False),
    Column("vaccine_id", Text, ForeignKey("vaccines.vaccine_id"), nullable=False),
    Column("dose_number", Integer, nullable=False),
    Column("batch_id", Text, nullable=False),
    Column("batch_number", Text, nullable=False),
    Column("unit_id", Text, nullable=False),
    Column("care_provider_id", Text, nullable=False),
    _at("administered_at"),
    Column("vaccinator_hsa_id", Text, nullable=False),
    # The health declaration the dose was given on (JR-6), when there was one.
    Column("declaration_id", Text, nullable=True),
    # 1 as signed; each correction of batch or dose number the next, with who and why.
    Column("revision", Integer, nullable=False, server_default=text("1")),
    _at("corrected_at", nullable=True),
    Column("corrected_by_hsa_id", Text, nullable=True),
    Column("correction_reason", Text, nullable=True),
    CheckConstraint("dose_number >= 1", name="dose_number_positive"),
    UniqueConstraint("order_id"),
    Index("ix_administrations_patient_id_administered_at", "patient_id", "administered_at"),
)

historical_doses = Table(
    "historical_doses",
    metadata,
    Column("historical_dose_id", Text, primary_key=True),
    Column("patient_id", Text, nullable=False),
    Column("vaccine_id", Text, ForeignKey("vaccines.vaccine_id"), nullable=False),
    Column("dose_number", Integer, nullable=False),
    Column("given_on", Date, nullable=False),
    Column("country", Text, nullable=True),
    Column("comment", Text, nullable=False),
    Column("unit_id", Text, nullable=False),
    Column("care_provider_id", Text, nullable=False),
    _at("recorded_at"),
    Column("recorded_by_hsa_id", Text, nullable=False),
    CheckConstraint("dose_number >= 1", name="dose_number_positive"),
    Index("ix_historical_doses_patient_id_given_on", "patient_id", "given_on"),
)

# --- kept from other services' events --------------------------------------------------------

patients = Table(
    "patients",
    metadata,
    Column("patient_id", Text, primary_key=True),
    # Null until the registration is seen: blocks and consents may arrive on their own.
    Column("identifier", Text, nullable=True),
    Column("identifier_kind", Text, nullable=True),
    # The patient's blocks and consents as identity last published them (ID-5, ID-6).
    Column("blocks", JSONB, nullable=False, server_default="[]"),
    Column("consents", JSONB, nullable=False, server_default="[]"),
)

declarations = Table(
    "declarations",
    metadata,
    Column("declaration_id", Text, primary_key=True),
    Column("patient_id", Text, nullable=False),
    Column("unit_id", Text, nullable=False),
    Column("booking_id", Text, nullable=True),
    _at("submitted_at"),
    # The questions as the patient saw them, with the answers (booking's event).
    Column("answers", JSONB, nullable=False),
    # The visit's declaration, by booking; else the patient's latest at the unit.
    Index("ix_declarations_booking_id", "booking_id"),
    Index(
        "ix_declarations_patient_id_unit_id_submitted_at", "patient_id", "unit_id", "submitted_at"
    ),
)

batches = Table(
    "batches",
    metadata,
    Column("batch_id", Text, primary_key=True),
    Column("unit_id", Text, nullable=False),
    Column("care_provider_id", Text, nullable=False),
    Column("vaccine_id", Text, nullable=False),
    Column("batch_number", Text, nullable=False),
    Column("expires_on", Date, nullable=False),
    # Doses the journal may still give from it: the inventory's check-ins, discards and
    # corrections, less every dose the journal gave (taken here in the same transaction).
    Column("available", Integer, nullable=False),
    CheckConstraint("available >= 0", name="available_not_negative"),
)
