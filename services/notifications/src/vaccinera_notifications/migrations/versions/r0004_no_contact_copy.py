"""No copy of contact data (issue 9, ID-3, docs/decisions/0002): the SMS sender asks identity
for the numbers when it sends, so the ``contacts`` projection goes, and every number in it.

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
    op.drop_table("contacts")


def downgrade() -> None:
    # The table comes back empty: the numbers stay in identity.
    op.create_table(
        "contacts",
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("mobile", sa.Text(), nullable=True),
        sa.Column("protected", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint(
            "NOT protected OR mobile IS NULL", name=op.f("ck_contacts_protected_has_no_mobile")
        ),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_contacts")),
    )
