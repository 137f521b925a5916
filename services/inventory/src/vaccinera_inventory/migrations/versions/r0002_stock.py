"""Vaccines, batches and their movements, administrations received, low-stock levels and
quick lists (issue 10: IN-1..IN-6).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in tables.CHANGES and tables.DISCREPANCIES when this revision was written: a later
# change to those needs a migration of its own.
CHANGES = "'checked_in', 'administered', 'discarded', 'corrected'"
DISCREPANCIES = "'empty', 'unknown_batch', 'expired'"


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "vaccines",
        sa.Column("vaccine_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        _at("renamed_at", nullable=True),
        sa.PrimaryKeyConstraint("vaccine_id", name=op.f("pk_vaccines")),
    )
    op.create_table(
        "batches",
        sa.Column("batch_id", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.Text(), nullable=False),
        sa.Column("care_provider_id", sa.Text(), nullable=False),
        sa.Column("vaccine_id", sa.Text(), nullable=False),
        sa.Column("batch_number", sa.Text(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("balance", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        _at("checked_in_at"),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_batches_balance_not_negative")),
        sa.CheckConstraint("delivered >= 0", name=op.f("ck_batches_delivered_not_negative")),
        sa.ForeignKeyConstraint(
            ["vaccine_id"],
            ["vaccines.vaccine_id"],
            name=op.f("fk_batches_vaccine_id_vaccines"),
        ),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_batches")),
        sa.UniqueConstraint(
            "unit_id",
            "vaccine_id",
            "batch_number",
            name=op.f("uq_batches_unit_id_vaccine_id_batch_number"),
        ),
    )
    op.create_index(
        "ix_batches_in_stock",
        "batches",
        ["unit_id", "vaccine_id", "expires_on"],
        postgresql_include=["care_provider_id", "balance"],
        postgresql_where=sa.text("balance > 0"),
    )
    op.create_table(
        "movements",
        sa.Column("movement_id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("batch_id", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.Text(), nullable=False),
        sa.Column("care_provider_id", sa.Text(), nullable=False),
        sa.Column("vaccine_id", sa.Text(), nullable=False),
        sa.Column("change", sa.Text(), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("balance", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("by_hsa_id", sa.Text(), nullable=True),
        sa.Column("administration_id", sa.Text(), nullable=True),
        sa.Column("delivery_id", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(f"change IN ({CHANGES})", name=op.f("ck_movements_change")),
        sa.CheckConstraint("balance >= 0", name=op.f("ck_movements_balance_not_negative")),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.batch_id"], name=op.f("fk_movements_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("movement_id", name=op.f("pk_movements")),
    )
    op.create_index("ix_movements_batch_id_movement_id", "movements", ["batch_id", "movement_id"])
    op.create_index(
        "ix_movements_at",
        "movements",
        ["at"],
        postgresql_include=["unit_id", "care_provider_id", "vaccine_id", "change", "delta"],
    )
    op.create_table(
        "administrations",
        sa.Column("administration_id", sa.Text(), nullable=False),
        sa.Column("batch_id", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.Text(), nullable=False),
        sa.Column("care_provider_id", sa.Text(), nullable=False),
        sa.Column("vaccine_id", sa.Text(), nullable=False),
        _at("administered_at"),
        sa.Column("decremented", sa.Boolean(), nullable=False),
        sa.Column("discrepancy", sa.Text(), nullable=True),
        _at("resolved_at", nullable=True),
        sa.Column("resolved_by", sa.Text(), nullable=True),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            f"discrepancy IN ({DISCREPANCIES})", name=op.f("ck_administrations_discrepancy")
        ),
        sa.PrimaryKeyConstraint("administration_id", name=op.f("pk_administrations")),
    )
    op.create_index(
        "ix_administrations_unit_id_recorded_at_discrepancy",
        "administrations",
        ["unit_id", "recorded_at"],
        postgresql_where=sa.text("discrepancy IS NOT NULL"),
    )
    op.create_index(
        "ix_administrations_batch_id_open",
        "administrations",
        ["batch_id"],
        postgresql_where=sa.text("discrepancy IS NOT NULL AND resolved_at IS NULL"),
    )
    op.create_table(
        "low_stock_levels",
        sa.Column("unit_id", sa.Text(), nullable=False),
        sa.Column("vaccine_id", sa.Text(), nullable=False),
        sa.Column("care_provider_id", sa.Text(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("low", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("set_by", sa.Text(), nullable=True),
        sa.Column(
            "set_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("level >= 0", name=op.f("ck_low_stock_levels_level_not_negative")),
        sa.ForeignKeyConstraint(
            ["vaccine_id"],
            ["vaccines.vaccine_id"],
            name=op.f("fk_low_stock_levels_vaccine_id_vaccines"),
        ),
        sa.PrimaryKeyConstraint("unit_id", "vaccine_id", name=op.f("pk_low_stock_levels")),
    )
    op.create_table(
        "quick_lists",
        sa.Column("unit_id", sa.Text(), nullable=False),
        sa.Column("vaccine_ids", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=True),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("unit_id", name=op.f("pk_quick_lists")),
    )


def downgrade() -> None:
    op.drop_table("quick_lists")
    op.drop_table("low_stock_levels")
    op.drop_table("administrations")
    op.drop_table("movements")
    op.drop_table("batches")
    op.drop_table("vaccines")
