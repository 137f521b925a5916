"""Attempts to manage a booking by reference and SMS code, counted per client and reference
(BK-2, issue 9).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "manage_attempts",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start", name="pk_manage_attempts"),
    )
    op.create_index("ix_manage_attempts_window_start", "manage_attempts", ["window_start"])


def downgrade() -> None:
    op.drop_table("manage_attempts")
