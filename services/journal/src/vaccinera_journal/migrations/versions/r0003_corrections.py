"""A given dose's corrections: its revision, when, by whom and why (RX-1).

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


def upgrade() -> None:
    op.add_column(
        "administrations",
        sa.Column("revision", sa.Integer(), server_default=sa.text("1"), nullable=False),
    )
    op.add_column(
        "administrations", sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("administrations", sa.Column("corrected_by_hsa_id", sa.Text(), nullable=True))
    op.add_column("administrations", sa.Column("correction_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    for column in ("correction_reason", "corrected_by_hsa_id", "corrected_at", "revision"):
        op.drop_column("administrations", column)
