"""The vaccine catalogue (seeded with the vaccines the FAQ's staff gave), orders,
administrations, historical doses, and what the journal keeps from identity, booking and
inventory (issue 10: JR-1..JR-9).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in tables.ORDER_STATUSES when this revision was written.
ORDER_STATUSES = "'ordered', 'voided', 'administered'"

# The catalogue a region starts from (JR-1): product, marketing authorisation holder, ATC
# code (WHO), doses of the primary series and the minimum days between them per the product
# information (SmPC). Administrators change it with PATCH /vaccines/{id}.
SEED = [
    ("vaccine-comirnaty", "Comirnaty", "BioNTech Manufacturing GmbH", "J07BN01", 2, 21),
    ("vaccine-spikevax", "Spikevax", "Moderna Biotech Spain S.L.", "J07BN01", 2, 28),
    ("vaccine-vaxzevria", "Vaxzevria", "AstraZeneca AB", "J07BN02", 2, 28),
    ("vaccine-influvac-tetra", "Influvac Tetra", "Viatris Healthcare Ltd", "J07BB02", 1, None),
    ("vaccine-vaxigrip-tetra", "Vaxigrip Tetra", "Sanofi Pasteur", "J07BB02", 1, None),
    ("vaccine-pneumovax", "Pneumovax", "Merck Sharp & Dohme B.V.", "J07AL01", 1, None),
    ("vaccine-prevenar-13", "Prevenar 13", "Pfizer Europe MA EEIG", "J07AL02", 1, None),
]


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _dose_number_positive(table: str) -> sa.CheckConstraint:
    return sa.CheckConstraint("dose_number >= 1", name=op.f(f"ck_{table}_dose_number_positive"))


def upgrade() -> None:
    vaccines = op.create_table(
        "vaccines",
        sa.Column("vaccine_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("manufacturer", sa.Text(), nullable=False),
        sa.Column("atc_code", sa.Text(), nullable=False),
        sa.Column("doses_in_series", sa.Integer(), nullable=False),
        sa.Column("min_interval_days", sa.Integer(), nullable=True),
        _at("changed_at"),
        sa.Column("changed_by", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "doses_in_series >= 1", name=op.f("ck_vaccines_doses_in_series_positive")
        ),
        sa.CheckConstraint(
            "min_interval_days >= 0", name=op.f("ck_vaccines_min_interval_not_negative")
        ),
        sa.PrimaryKeyConstraint("vaccine_id", name=op.f("pk_vaccines")),
    )
    seeded_at = datetime(2026, 12, 1, tzinfo=UTC)
    op.bulk_insert(
        vaccines,
        [
            {
                "vaccine_id": vaccine_id,
                "name": name,
                "manufacturer": manufacturer,
                "atc_code": atc,
                "doses_in_series": doses,
                "min_interval_days": interval,
                "changed_at": seeded_at,
                "changed_by": None,
            }
            for vaccine_id, name, manufacturer, atc, doses, interval in SEED
        ],
    )
    op.create_table(
        "orders",
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("vaccine_id", sa.Text(), nullable=False),
        sa.Column("dose_number", sa.Integer(), nullable=False),
        sa.Column("patient_group", sa.Text(), nullable=True),
        sa.Column("unit_id", sa.Text(), nullable=False),
        sa.Column("care_provider_id", sa.Text(), nullable=False),
        _at("ordered_at"),
        sa.Column("prescriber_hsa_id", sa.Text(), nullable=False),
        sa.Column("replaces_order_id", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        _at("voided_at", nullable=True),
        sa.Column("voided_by_hsa_id", sa.Text(), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(f"status IN ({ORDER_STATUSES})", name=op.f("ck_orders_status")),
        _dose_number_positive("orders"),
        sa.ForeignKeyConstraint(
            ["vaccine_id"],
            ["vaccines.vaccine_id"],
            name=op.f("fk_orders_vaccine_id_vaccines"),
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_orders")),
    )
    op.create_index(
        "ix_orders_patient_id_ordered_at", "orders", ["patient_id", "ordered_at"], unique=False
    )
    op.create_table(
        "administrations",
        sa.Column("administration_id", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Text(), nullable=False),
        sa.Column("vaccine_id", sa.Text(), nullable=False),
        sa.Column("dose_number", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Text(), nullable=False),
        sa.Column("batch_number", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.Text(), nullable=False),
        sa.Column("care_provider_id", sa.Text(), nullable=False),
        _at("administered_at"),
        sa.Column("vaccinator_hsa_id", sa.Text(), nullable=False),
        sa.Column("declaration_id", sa.Text(), nullable=True),
        _dose_number_positive("administrations"),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.order_id"], name=op.f("fk_administrations_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["vaccine_id"],
            ["vaccines.vaccine_id"],
            name=op.f("fk_administrations_vaccine_id_vaccines"),
        ),
        sa.PrimaryKeyConstraint("administration_id", name=op.f("pk_administrations")),
        sa.UniqueConstraint("order_id", name=op.f("uq_administrations_order_id")),
    )
    op.create_index(
        "ix_administrations_patient_id_administered_at",
        "administrations",
        ["patient_id", "administered_at"],
        unique=False,
    )
    op.create_table(
        "historical_doses",
        sa.Column("historical_dose_id", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("vaccine_id", sa.Text(), nullable=False),
        sa.Column("dose_number", sa.Integer(), nullable=False),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("country", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.Text(), nullable=False),
        sa.Column("care_provider_id", sa.Text(), nullable=False),
        _at("recorded_at"),
        sa.Column("recorded_by_hsa_id", sa.Text(), nullable=False),
        _dose_number_positive("historical_doses"),
        sa.ForeignKeyConstraint(
            ["vaccine_id"],
            ["vaccines.vaccine_id"],
            name=op.f("fk_historical_doses_vaccine_id_vaccines"),
        ),
        sa.PrimaryKeyConstraint("historical_dose_id", name=op.f("pk_historical_doses")),
    )
    op.create_index(
        "ix_historical_doses_patient_id_given_on",
        "historical_doses",
        ["patient_id", "given_on"],
        unique=False,
    )
    op.create_table(
        "patients",
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("identifier", sa.Text(), nullable=True),
        sa.Column("identifier_kind", sa.Text(), nullable=True),
        sa.Column(
            "blocks", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column(
            "consents",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_patients")),
    )
    op.create_table(
        "declarations",
        sa.Column("declaration_id", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.Text(), nullable=False),
        sa.Column("booking_id", sa.Text(), nullable=True),
        _at("submitted_at"),
        sa.Column("answers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("declaration_id", name=op.f("pk_declarations")),
    )
    op.create_index("ix_declarations_booking_id", "declarations", ["booking_id"], unique=False)
    op.create_index(
        "ix_declarations_patient_id_unit_id_submitted_at",
        "declarations",
        ["patient_id", "unit_id", "submitted_at"],
        unique=False,
    )
    op.create_table(
        "batches",
        sa.Column("batch_id", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.Text(), nullable=False),
        sa.Column("care_provider_id", sa.Text(), nullable=False),
        sa.Column("vaccine_id", sa.Text(), nullable=False),
        sa.Column("batch_number", sa.Text(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("available", sa.Integer(), nullable=False),
        sa.CheckConstraint("available >= 0", name=op.f("ck_batches_available_not_negative")),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_batches")),
    )


def downgrade() -> None:
    for table in (
        "batches",
        "declarations",
        "patients",
        "historical_doses",
        "administrations",
        "orders",
        "vaccines",
    ):
        op.drop_table(table)
