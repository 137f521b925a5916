"""A confirmation keeps the manage code sealed to notifications' key, its text a placeholder
(issue 9); codes in clear in the texts of settled messages are masked.

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
    op.add_column("messages", sa.Column("sealed_code", sa.Text(), nullable=True))
    # Texts written before this revision hold the code in clear. Once sent (or given up on)
    # they are history: the code is masked there. One still waiting goes out as it is.
    op.execute(
        "UPDATE messages SET text = regexp_replace(text, 'kod [0-9]+', 'kod ******', 'g') "
        "WHERE kind = 'confirmation' AND status NOT IN ('scheduled', 'sending')"
    )


def downgrade() -> None:
    op.drop_column("messages", "sealed_code")
