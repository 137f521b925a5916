"""Booking's tables: patient projection, time books, visit types, slots, bookings, health
declarations, time blocks, day notes and mass cancellations; the kit's tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from vaccinera_kit.migrations import create_kit_tables_v1, drop_kit_tables_v1

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _created_at(name: str = "created_at") -> sa.Column[object]:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _time_book_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["time_book_id"], ["time_books.time_book_id"], name=f"fk_{table}_time_book_id_time_books"
    )


def upgrade() -> None:
    # The exclusion constraint on slots compares text columns with = in a GiST index.
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    create_kit_tables_v1()

    op.create_table(
        "patients",
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("identifier_kind", sa.Text(), nullable=False),
        sa.Column("identifier_value", sa.Text(), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        _created_at("updated_at"),
        sa.PrimaryKeyConstraint("patient_id", name="pk_patients"),
    )
    op.create_index("ix_patients_identifier_value", "patients", ["identifier_value"])

    op.create_table(
        "time_books",
        sa.Column("time_book_id", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.Text(), nullable=False),
        sa.Column("unit_name", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("time_book_id", name="pk_time_books"),
    )
    op.create_index("ix_time_books_unit_id", "time_books", ["unit_id"])

    op.create_table(
        "time_book_resources",
        sa.Column("time_book_id", sa.Text(), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("columns", sa.SmallInteger(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint(
            "resource IN ('nurse', 'doctor')", name=op.f("ck_time_book_resources_resource")
        ),
        sa.CheckConstraint("columns BETWEEN 1 AND 20", name=op.f("ck_time_book_resources_columns")),
        _time_book_fk("time_book_resources"),
        sa.PrimaryKeyConstraint("time_book_id", "resource", name="pk_time_book_resources"),
    )

    op.create_table(
        "visit_types",
        sa.Column("visit_type_id", sa.Text(), nullable=False),
        sa.Column("time_book_id", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("duration_minutes", sa.SmallInteger(), nullable=False),
        sa.Column("dose", sa.SmallInteger(), nullable=True),
        sa.Column("deleted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        _created_at(),
        sa.CheckConstraint("resource IN ('nurse', 'doctor')", name=op.f("ck_visit_types_resource")),
        _time_book_fk("visit_types"),
        sa.PrimaryKeyConstraint("visit_type_id", name="pk_visit_types"),
        sa.UniqueConstraint(
            "time_book_id", "position", name="uq_visit_types_time_book_id_position"
        ),
    )

    op.create_table(
        "slots",
        sa.Column("slot_id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("time_book_id", sa.Text(), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("column", sa.SmallInteger(), nullable=False),
        _at("start"),
        _at("end"),
        sa.Column("status", sa.Text(), server_default=sa.text("'open'"), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        postgresql.ExcludeConstraint(
            (sa.column("time_book_id"), "="),
            (sa.column("resource"), "="),
            (sa.column("column"), "="),
            (sa.text('tstzrange(start, "end")'), "&&"),
            using="gist",
            name="ex_slots_no_overlap",
        ),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_slots_status")),
        sa.CheckConstraint('"end" > start', name=op.f("ck_slots_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["time_book_id", "resource"],
            ["time_book_resources.time_book_id", "time_book_resources.resource"],
            name="fk_slots_time_book_id_time_book_resources",
        ),
        sa.PrimaryKeyConstraint("slot_id", name="pk_slots"),
    )
    op.create_index(
        "ix_slots_time_book_id_start_resource_column",
        "slots",
        ["time_book_id", "start", "resource", "column"],
    )

    op.create_table(
        "mass_cancellations",
        sa.Column("mass_cancellation_id", sa.Text(), nullable=False),
        sa.Column("time_book_id", sa.Text(), nullable=False),
        _at("start"),
        _at("end"),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("slots", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=True),
        _created_at(),
        sa.CheckConstraint(
            "slots IN ('close', 'reopen')", name=op.f("ck_mass_cancellations_slots")
        ),
        _time_book_fk("mass_cancellations"),
        sa.PrimaryKeyConstraint("mass_cancellation_id", name="pk_mass_cancellations"),
    )

    op.create_table(
        "bookings",
        sa.Column("booking_id", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("code_hash", sa.Text(), nullable=False),
        sa.Column("code_failures", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.Text(), nullable=False),
        sa.Column("time_book_id", sa.Text(), nullable=False),
        sa.Column("visit_type_id", sa.Text(), nullable=False),
        sa.Column("visit_type_name", sa.Text(), nullable=False),
        sa.Column("dose", sa.SmallInteger(), nullable=True),
        sa.Column("slot_id", sa.BigInteger(), nullable=False),
        sa.Column("column", sa.SmallInteger(), nullable=False),
        _at("start"),
        _at("end"),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("booked_by", sa.Text(), nullable=False),
        _created_at(),
        sa.Column("version", sa.Integer(), nullable=False),
        _at("arrived_at", nullable=True),
        sa.Column("cancelled_by", sa.Text(), nullable=True),
        _at("cancelled_at", nullable=True),
        sa.Column("mass_cancellation_id", sa.Text(), nullable=True),
        sa.CheckConstraint("booked_by IN ('citizen', 'staff')", name=op.f("ck_bookings_booked_by")),
        sa.CheckConstraint("status IN ('booked', 'cancelled')", name=op.f("ck_bookings_status")),
        sa.ForeignKeyConstraint(
            ["mass_cancellation_id"],
            ["mass_cancellations.mass_cancellation_id"],
            name="fk_bookings_mass_cancellation_id_mass_cancellations",
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.patient_id"], name="fk_bookings_patient_id_patients"
        ),
        sa.ForeignKeyConstraint(["slot_id"], ["slots.slot_id"], name="fk_bookings_slot_id_slots"),
        _time_book_fk("bookings"),
        sa.ForeignKeyConstraint(
            ["visit_type_id"],
            ["visit_types.visit_type_id"],
            name="fk_bookings_visit_type_id_visit_types",
        ),
        sa.PrimaryKeyConstraint("booking_id", name="pk_bookings"),
        sa.UniqueConstraint("reference", name="uq_bookings_reference"),
    )
    # BK-4: at most one active booking per slot.
    op.create_index(
        "uq_bookings_slot_id_booked",
        "bookings",
        ["slot_id"],
        unique=True,
        postgresql_where=sa.text("status = 'booked'"),
    )
    op.create_index("ix_bookings_patient_id_start", "bookings", ["patient_id", "start"])
    op.create_index(
        "ix_bookings_time_book_id_start_booked",
        "bookings",
        ["time_book_id", "start"],
        postgresql_where=sa.text("status = 'booked'"),
    )
    op.create_index(
        "ix_bookings_visit_type_id_start_booked",
        "bookings",
        ["visit_type_id", "start"],
        postgresql_where=sa.text("status = 'booked'"),
    )

    op.create_table(
        "time_blocks",
        sa.Column("block_id", sa.Text(), nullable=False),
        sa.Column("time_book_id", sa.Text(), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("columns", postgresql.ARRAY(sa.SmallInteger()), nullable=True),
        _at("start"),
        _at("end"),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("booked_inside", sa.Integer(), nullable=False),
        _created_at(),
        _time_book_fk("time_blocks"),
        sa.PrimaryKeyConstraint("block_id", name="pk_time_blocks"),
    )
    op.create_index("ix_time_blocks_time_book_id_start", "time_blocks", ["time_book_id", "start"])

    op.create_table(
        "day_notes",
        sa.Column("time_book_id", sa.Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("written_by", sa.Text(), nullable=False),
        _created_at("updated_at"),
        _time_book_fk("day_notes"),
        sa.PrimaryKeyConstraint("time_book_id", "day", name="pk_day_notes"),
    )

    op.create_table(
        "questionnaires",
        sa.Column("unit_id", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("questions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=False),
        _created_at("changed_at"),
        sa.PrimaryKeyConstraint("unit_id", name="pk_questionnaires"),
    )

    op.create_table(
        "declarations",
        sa.Column("declaration_id", sa.Text(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.Text(), nullable=False),
        sa.Column("booking_id", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("questions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.booking_id"], name="fk_declarations_booking_id_bookings"
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.patient_id"], name="fk_declarations_patient_id_patients"
        ),
        sa.PrimaryKeyConstraint("declaration_id", name="pk_declarations"),
        sa.UniqueConstraint("booking_id", name="uq_declarations_booking_id"),
    )


def downgrade() -> None:
    for table in (
        "declarations",
        "questionnaires",
        "day_notes",
        "time_blocks",
        "bookings",
        "mass_cancellations",
        "slots",
        "visit_types",
        "time_book_resources",
        "time_books",
        "patients",
    ):
        op.drop_table(table)
    drop_kit_tables_v1()
    op.execute("DROP EXTENSION IF EXISTS btree_gist")
