"""The kit's tables; contacts, bookings and messages with the sender's partial indexes.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from vaccinera_kit.migrations import create_kit_tables_v1, drop_kit_tables_v1

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As in domain.KINDS and domain.STATUSES when this revision was written: a later change to
# those needs a migration of its own.
KINDS = "'confirmation', 'reminder', 'rebooked', 'cancelled', 'mass_cancellation'"
STATUSES = "'scheduled', 'sending', 'sent', 'failed', 'withdrawn', 'skipped'"


def upgrade() -> None:
    create_kit_tables_v1()
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
    op.create_table(
        "bookings",
        sa.Column("booking_id", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("booking_id", name=op.f("pk_bookings")),
    )
    op.create_table(
        "messages",
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("booking_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("visit_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'scheduled'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.Text(), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("traceparent", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_message_id", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(f"kind IN ({KINDS})", name=op.f("ck_messages_kind")),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_messages_status")),
        sa.CheckConstraint(
            "status <> 'sending' OR (claimed_by IS NOT NULL AND claimed_until IS NOT NULL)",
            name=op.f("ck_messages_sending_is_claimed"),
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_messages")),
    )
    op.create_index(
        op.f("ix_messages_due"),
        "messages",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'scheduled'"),
    )
    op.create_index(
        op.f("ix_messages_expired_leases"),
        "messages",
        ["claimed_until"],
        postgresql_where=sa.text("status = 'sending'"),
    )
    op.create_index(op.f("ix_messages_patient_id_due_at"), "messages", ["patient_id", "due_at"])
    op.create_index(op.f("ix_messages_booking_id_kind"), "messages", ["booking_id", "kind"])


def downgrade() -> None:
    op.drop_table("messages")
    op.drop_table("bookings")
    op.drop_table("contacts")
    drop_kit_tables_v1()
