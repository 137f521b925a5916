"""Indexes for the operator's pages of reports by state, and for the runs a replica polls
(issue 11, found by the hot-query test).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_reports_state_report_id", "reports", ["state", "report_id"], unique=False)
    op.create_index(
        "ix_runs_unfinished",
        "runs",
        ["receiver", "requested_at"],
        unique=False,
        postgresql_where=sa.text("finished_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_runs_unfinished", table_name="runs")
    op.drop_index("ix_reports_state_report_id", table_name="reports")
