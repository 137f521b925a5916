"""Booking's tables (PostgreSQL): the patient and dose projections, time books with their
resources and visit types, slots, bookings, health declarations and what staff write in a time
book.

The database itself keeps the two rules that must hold under any concurrency (BK-4):
``uq_bookings_slot_id_booked`` allows at most one active booking per slot, and
``ex_slots_no_overlap`` keeps the slots of one column of a resource from overlapping.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, ExcludeConstraint

from vaccinera_kit.database import service_metadata

metadata = service_metadata()


def _at(name: str, *, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


def _created_at() -> Column[object]:
    return Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now())


# Booking's projection of identity: only what booking decides on (who may self-book, ID-3,
# BK-2), fed by identity's events and, on a miss, by asking identity once. No names, no contact.
patients = Table(
    "patients",
    metadata,
    Column("patient_id", Text, primary_key=True),
    Column("identifier_kind", Text, nullable=False),
    Column("identifier_value", Text, nullable=False),
    Column("protected", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # A citizen's login finds the patient by personnummer. Not unique: identifier changes of
    # two patients (ID-4) may arrive in either order.
    Index("ix_patients_identifier_value", "identifier_value"),
)

# Booking's projection of the journal's doses (BK-10): per patient and dose number, the first
# day the next dose of the series may be given. Fed by DoseAdministered and
# HistoricalDoseRecorded, read in the booking's transaction by primary key. No vaccine, batch or
# other health data: only what the rule decides on.
next_doses = Table(
    "next_doses",
    metadata,
    Column("patient_id", Text, nullable=False),
    Column("dose_number", SmallInteger, nullable=False),
    # None: the series is complete after this dose (or the journal named no interval).
    Column("next_dose_from", Date, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("patient_id", "dose_number"),
)

time_books = Table(
    "time_books",
    metadata,
    Column("time_book_id", Text, primary_key=True),
    Column("unit_id", Text, nullable=False),
    Column("unit_name", Text, nullable=False),
    Column("name", Text, nullable=False),
    # Optimistic lock for changes of the visit types: a stale edit gets 409.
    Column("version", Integer, nullable=False),
    _created_at(),
    Index("ix_time_books_unit_id", "unit_id"),
)

time_book_resources = Table(
    "time_book_resources",
    metadata,
    Column("time_book_id", Text, ForeignKey("time_books.time_book_id"), nullable=False),
    Column("resource", Text, nullable=False),
    Column("columns", SmallInteger, nullable=False),
    Column("position", SmallInteger, nullable=False),
    PrimaryKeyConstraint("time_book_id", "resource"),
    CheckConstraint("resource IN ('nurse', 'doctor')", name="resource"),
    CheckConstraint("columns BETWEEN 1 AND 20", name="columns"),
)

visit_types = Table(
    "visit_types",
    metadata,
    Column("visit_type_id", Text, primary_key=True),
    Column("time_book_id", Text, ForeignKey("time_books.time_book_id"), nullable=False),
    # Order of addition, shown in that order.
    Column("position", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("category", Text, nullable=False),
    Column("resource", Text, nullable=False),
    Column("duration_minutes", SmallInteger, nullable=False),
    Column("dose", SmallInteger, nullable=True),
    # Soft delete: past bookings keep pointing at it (BK-7).
    Column("deleted", Boolean, nullable=False, server_default=text("false")),
    _created_at(),
    UniqueConstraint("time_book_id", "position"),
    CheckConstraint("resource IN ('nurse', 'doctor')", name="resource"),
)

slots = Table(
    "slots",
    metadata,
    Column("slot_id", BigInteger, Identity(), primary_key=True),
    Column("time_book_id", Text, nullable=False),
    Column("resource", Text, nullable=False),
    Column("column", SmallInteger, nullable=False),
    _at("start"),
    _at("end"),
    Column("status", Text, nullable=False, server_default=text("'open'")),
    Column("label", Text, nullable=True),
    ForeignKeyConstraint(
        ["time_book_id", "resource"],
        ["time_book_resources.time_book_id", "time_book_resources.resource"],
    ),
    CheckConstraint("status IN ('open', 'closed')", name="status"),
    CheckConstraint('"end" > start', name="ends_after_start"),
    # BK-1/BK-4: two slots of one column never overlap, whoever opens them concurrently.
    ExcludeConstraint(
        ("time_book_id", "="),
        ("resource", "="),
        ("column", "="),
        (func.tstzrange(text("start"), text('"end"')), "&&"),
        using="gist",
        name="ex_slots_no_overlap",
    ),
    # Serves the candidates of a booking (book/start/resource equal, column order), free times,
    # the day view, capacity and time blocks (book equal, start range).
    Index(
        "ix_slots_time_book_id_start_resource_column", "time_book_id", "start", "resource", "column"
    ),
)

mass_cancellations = Table(
    "mass_cancellations",
    metadata,
    Column("mass_cancellation_id", Text, primary_key=True),
    Column("time_book_id", Text, ForeignKey("time_books.time_book_id"), nullable=False),
    _at("start"),
    _at("end"),
    Column("message", Text, nullable=False),
    Column("slots", Text, nullable=False),
    Column("created_by", Text, nullable=True),
    _created_at(),
    CheckConstraint("slots IN ('close', 'reopen')", name="slots"),
)

bookings = Table(
    "bookings",
    metadata,
    Column("booking_id", Text, primary_key=True),
    Column("reference", Text, nullable=False, unique=True),
    # Only a hash of the manage code from the SMS (BK-2).
    Column("code_hash", Text, nullable=False),
    Column("code_failures", Integer, nullable=False, server_default=text("0")),
    Column("patient_id", Text, ForeignKey("patients.patient_id"), nullable=False),
    Column("unit_id", Text, nullable=False),
    Column("time_book_id", Text, ForeignKey("time_books.time_book_id"), nullable=False),
    Column("visit_type_id", Text, ForeignKey("visit_types.visit_type_id"), nullable=False),
    # The name booked with: a later rename does not change past bookings (BK-7).
    Column("visit_type_name", Text, nullable=False),
    Column("dose", SmallInteger, nullable=True),
    Column("slot_id", BigInteger, ForeignKey("slots.slot_id"), nullable=False),
    Column("column", SmallInteger, nullable=False),
    _at("start"),
    _at("end"),
    Column("status", Text, nullable=False),
    Column("booked_by", Text, nullable=False),
    _created_at(),
    Column("version", Integer, nullable=False),
    _at("arrived_at", nullable=True),
    Column("cancelled_by", Text, nullable=True),
    _at("cancelled_at", nullable=True),
    Column(
        "mass_cancellation_id",
        Text,
        ForeignKey("mass_cancellations.mass_cancellation_id"),
        nullable=True,
    ),
    CheckConstraint("status IN ('booked', 'cancelled')", name="status"),
    CheckConstraint("booked_by IN ('citizen', 'staff')", name="booked_by"),
    # BK-4: at most one active booking per slot, under any concurrency.
    Index(
        "uq_bookings_slot_id_booked",
        "slot_id",
        unique=True,
        postgresql_where=text("status = 'booked'"),
    ),
    Index("ix_bookings_patient_id_start", "patient_id", "start"),
    # Mass cancellation of a range (BK-6).
    Index(
        "ix_bookings_time_book_id_start_booked",
        "time_book_id",
        "start",
        postgresql_where=text("status = 'booked'"),
    ),
    # A visit type with future bookings cannot be deleted (BK-7).
    Index(
        "ix_bookings_visit_type_id_start_booked",
        "visit_type_id",
        "start",
        postgresql_where=text("status = 'booked'"),
    ),
)

# Attempts to manage a booking with its reference and SMS code (BK-2), counted in the database
# so every replica sees the same count: one row per key (a client's hashed address, or a
# reference) and fixed window. Rows of past windows are pruned by the next attempt.
manage_attempts = Table(
    "manage_attempts",
    metadata,
    Column("key", Text, nullable=False),
    _at("window_start"),
    Column("attempts", Integer, nullable=False),
    PrimaryKeyConstraint("key", "window_start"),
    Index("ix_manage_attempts_window_start", "window_start"),
)

time_blocks = Table(
    "time_blocks",
    metadata,
    Column("block_id", Text, primary_key=True),
    Column("time_book_id", Text, ForeignKey("time_books.time_book_id"), nullable=False),
    Column("resource", Text, nullable=False),
    # None: every column.
    Column("columns", ARRAY(SmallInteger), nullable=True),
    _at("start"),
    _at("end"),
    Column("label", Text, nullable=False),
    Column("booked_inside", Integer, nullable=False),
    _created_at(),
    Index("ix_time_blocks_time_book_id_start", "time_book_id", "start"),
)

day_notes = Table(
    "day_notes",
    metadata,
    Column("time_book_id", Text, ForeignKey("time_books.time_book_id"), nullable=False),
    Column("day", Date, nullable=False),
    Column("text", Text, nullable=False),
    Column("written_by", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("time_book_id", "day"),
)

questionnaires = Table(
    "questionnaires",
    metadata,
    Column("unit_id", Text, primary_key=True),
    Column("version", Integer, nullable=False),
    # The unit's questions as one value object, read and written whole.
    Column("questions", JSONB, nullable=False),
    Column("changed_by", Text, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

declarations = Table(
    "declarations",
    metadata,
    Column("declaration_id", Text, primary_key=True),
    Column("patient_id", Text, ForeignKey("patients.patient_id"), nullable=False),
    Column("unit_id", Text, nullable=False),
    Column("booking_id", Text, ForeignKey("bookings.booking_id"), nullable=True, unique=True),
    Column("version", Integer, nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    # Answers and the questions as asked: kept whole for the clinician, never queried.
    Column("answers", JSONB, nullable=False),
    Column("questions", JSONB, nullable=False),
)
