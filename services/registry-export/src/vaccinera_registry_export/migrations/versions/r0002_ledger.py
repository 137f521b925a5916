"""The report ledger (doses, reports per version and receiver), patients' identifiers, doses
entered by hand for the control report, NVR runs (issue 11: RX-1..RX-5).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As tables.RECEIVERS and tables.STATES when this revision was written.
RECEIVERS = "'nvr', 'npo'"
STATES = "'pending', 'acknowledged', 'failed', 'superseded'"


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "patients",
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("identifier", sa.Text(), nullable=False),
        sa.Column("identifier_kind", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_patients")),
    )
    op.create_table(
        "doses",
        sa.Column("administration_id", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("vaccine_id", sa.Text(), nullable=False),
        sa.Column("vaccine_name", sa.Text(), nullable=False),
        sa.Column("atc_code", sa.Text(), nullable=True),
        sa.Column("dose_number", sa.Integer(), nullable=False),
        sa.Column("batch_number", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.Text(), nullable=False),
        sa.Column("care_provider_id", sa.Text(), nullable=False),
        _at("administered_at"),
        sa.Column("vaccinator_hsa_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("administration_id", name=op.f("pk_doses")),
    )
    op.create_index("ix_doses_patient_id", "doses", ["patient_id"], unique=False)
    op.create_table(
        "reports",
        sa.Column("report_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("administration_id", sa.Text(), nullable=False),
        sa.Column("receiver", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.Text(), nullable=False),
        sa.Column("identifier_kind", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        _at("due_at"),
        sa.Column("answer_status", sa.Integer(), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("receiver_ref", sa.Text(), nullable=True),
        _at("created_at"),
        _at("acknowledged_at", nullable=True),
        sa.CheckConstraint(f"receiver IN ({RECEIVERS})", name=op.f("ck_reports_receiver")),
        sa.CheckConstraint(f"state IN ({STATES})", name=op.f("ck_reports_state")),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_reports")),
        sa.UniqueConstraint(
            "administration_id",
            "receiver",
            "version",
            name=op.f("uq_reports_administration_id_receiver_version"),
        ),
    )
    op.create_index(
        "ix_reports_due",
        "reports",
        ["receiver", "due_at"],
        unique=False,
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index("ix_reports_receiver_state", "reports", ["receiver", "state"], unique=False)
    op.create_table(
        "historical_doses",
        sa.Column("historical_dose_id", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("vaccine_name", sa.Text(), nullable=False),
        sa.Column("dose_number", sa.Integer(), nullable=False),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("country", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("unit_id", sa.Text(), nullable=False),
        sa.Column("care_provider_id", sa.Text(), nullable=False),
        _at("recorded_at"),
        sa.Column("recorded_by_hsa_id", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("historical_dose_id", name=op.f("pk_historical_doses")),
    )
    op.create_index(
        "ix_historical_doses_unit_id_recorded_at",
        "historical_doses",
        ["unit_id", "recorded_at"],
        unique=False,
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("receiver", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.Text(), nullable=True),
        _at("requested_at"),
        _at("started_at", nullable=True),
        _at("heartbeat_at", nullable=True),
        _at("finished_at", nullable=True),
        sa.Column("sent", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.CheckConstraint(f"receiver IN ({RECEIVERS})", name=op.f("ck_runs_receiver")),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_runs")),
    )
    op.create_index("ix_runs_receiver_started_at", "runs", ["receiver", "started_at"], unique=False)
    op.create_index(
        "uq_runs_one_scheduled_waiting",
        "runs",
        ["receiver"],
        unique=True,
        postgresql_where=sa.text("started_at IS NULL AND requested_by = 'schedule'"),
    )


def downgrade() -> None:
    for table in ("runs", "historical_doses", "reports", "doses", "patients"):
        op.drop_table(table)
