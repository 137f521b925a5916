"""The patient's register facts (birth date, municipality) on each dose and dose entered as
history, so the coverage per region, municipality and age band reads the doses' indexes alone
(RX-4); copied from ``patients`` for the rows already there. Every vaccine of a dose named in
``vaccines`` (the coverage reads the doses vaccine by vaccine from there).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_patients_residence", table_name="patients")
    for table in ("doses", "historical_doses"):
        op.add_column(table, sa.Column("municipality_code", sa.Text(), nullable=True))
        op.add_column(table, sa.Column("birth_date", sa.Date(), nullable=True))
        op.execute(
            f"UPDATE {table} SET municipality_code = p.municipality_code, "
            f"birth_date = p.birth_date FROM patients AS p WHERE p.patient_id = {table}.patient_id"
        )
    for table in ("doses", "historical_doses"):
        op.execute(
            f"INSERT INTO vaccines (vaccine_id, name) SELECT vaccine_id, min(vaccine_name) "
            f"FROM {table} WHERE vaccine_id IS NOT NULL GROUP BY vaccine_id "
            "ON CONFLICT (vaccine_id) DO NOTHING"
        )
    op.drop_index("ix_doses_coverage", table_name="doses")
    op.create_index(
        "ix_doses_coverage",
        "doses",
        ["vaccine_id", "patient_id", "dose_number"],
        unique=False,
        postgresql_include=["unit_id", "care_provider_id", "municipality_code", "birth_date"],
    )
    op.create_index(
        "ix_historical_doses_patient_id", "historical_doses", ["patient_id"], unique=False
    )
    op.drop_index("ix_historical_doses_coverage", table_name="historical_doses")
    op.create_index(
        "ix_historical_doses_coverage",
        "historical_doses",
        ["vaccine_id", "patient_id", "dose_number"],
        unique=False,
        postgresql_include=["municipality_code", "birth_date"],
    )


def downgrade() -> None:
    op.drop_index("ix_historical_doses_coverage", table_name="historical_doses")
    op.create_index(
        "ix_historical_doses_coverage",
        "historical_doses",
        ["vaccine_id", "patient_id", "dose_number"],
        unique=False,
    )
    op.drop_index("ix_historical_doses_patient_id", table_name="historical_doses")
    op.drop_index("ix_doses_coverage", table_name="doses")
    op.create_index(
        "ix_doses_coverage",
        "doses",
        ["vaccine_id", "patient_id", "dose_number"],
        unique=False,
        postgresql_include=["unit_id", "care_provider_id"],
    )
    for table in ("doses", "historical_doses"):
        op.drop_column(table, "birth_date")
        op.drop_column(table, "municipality_code")
    op.create_index(
        "ix_patients_residence",
        "patients",
        ["patient_id"],
        unique=False,
        postgresql_include=["municipality_code", "birth_date"],
    )
