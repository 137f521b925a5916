"""Each message knows the unit of its booking, so staff see only their unit's (AC-5).

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


def upgrade() -> None:
    # Rows written before this revision keep none: no staff member sees them.
    op.add_column("messages", sa.Column("unit_id", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("messages", "unit_id")
