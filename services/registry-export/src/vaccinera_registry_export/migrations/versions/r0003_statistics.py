"""Statistics for regional infection control (RX-4): the register's birth date and
municipality on patients, the vaccine of a dose entered as history, indexes for the coverage;
the register's counts, vaccines' names, batches' balances and the stock's movements per day.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _count(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Integer(), server_default=sa.text("0"), nullable=False)


def upgrade() -> None:
    op.add_column("patients", sa.Column("municipality_code", sa.Text(), nullable=True))
    op.add_column("patients", sa.Column("birth_date", sa.Date(), nullable=True))
    op.create_index(
        "ix_patients_residence",
        "patients",
        ["patient_id"],
        unique=False,
        postgresql_include=["municipality_code", "birth_date"],
    )
    op.create_index(
        "ix_doses_coverage",
        "doses",
        ["vaccine_id", "patient_id", "dose_number"],
        unique=False,
        postgresql_include=["unit_id", "care_provider_id"],
    )
    op.add_column("historical_doses", sa.Column("vaccine_id", sa.Text(), nullable=True))
    op.create_index(
        "ix_historical_doses_coverage",
        "historical_doses",
        ["vaccine_id", "patient_id", "dose_number"],
        unique=False,
    )
    op.create_table(
        "population_count",
        sa.Column("key", sa.Text(), nullable=False),
        _at("counted_at"),
        sa.Column("ages_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_population_count")),
    )
    op.create_table(
        "population",
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("municipality_code", sa.Text(), nullable=True),
        sa.Column("municipality", sa.Text(), nullable=True),
        sa.Column("age_band", sa.Text(), nullable=False),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.CheckConstraint("persons >= 0", name=op.f("ck_population_persons_not_negative")),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_population")),
    )
    op.create_table(
        "vaccines",
        sa.Column("vaccine_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        _at("renamed_at", nullable=True),
        sa.PrimaryKeyConstraint("vaccine_id", name=op.f("pk_vaccines")),
    )
    op.create_table(
        "stock_batches",
        sa.Column("batch_id", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.Text(), nullable=False),
        sa.Column("care_provider_id", sa.Text(), nullable=False),
        sa.Column("vaccine_id", sa.Text(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("balance", sa.Integer(), nullable=False),
        _at("changed_at"),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_stock_batches_balance_not_negative")),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_stock_batches")),
    )
    op.create_index(
        "ix_stock_batches_in_stock",
        "stock_batches",
        ["unit_id", "care_provider_id", "vaccine_id"],
        unique=False,
        postgresql_include=["expires_on", "balance"],
        postgresql_where=sa.text("balance > 0"),
    )
    op.create_table(
        "stock_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("unit_id", sa.Text(), nullable=False),
        sa.Column("care_provider_id", sa.Text(), nullable=False),
        sa.Column("vaccine_id", sa.Text(), nullable=False),
        _count("delivered"),
        _count("administered"),
        _count("discarded"),
        _count("corrected"),
        sa.PrimaryKeyConstraint(
            "day", "unit_id", "care_provider_id", "vaccine_id", name=op.f("pk_stock_days")
        ),
    )


def downgrade() -> None:
    for table in ("stock_days", "stock_batches", "vaccines", "population", "population_count"):
        op.drop_table(table)
    op.drop_index("ix_historical_doses_coverage", table_name="historical_doses")
    op.drop_column("historical_doses", "vaccine_id")
    op.drop_index("ix_doses_coverage", table_name="doses")
    op.drop_index("ix_patients_residence", table_name="patients")
    op.drop_column("patients", "birth_date")
    op.drop_column("patients", "municipality_code")
