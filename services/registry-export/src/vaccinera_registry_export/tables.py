"""The registry export's tables (PostgreSQL): the report ledger and what it keeps from other
services' events.

- ``doses``: every dose given (the journal's ``DoseAdministered``), with its current version:
  a new version when the dose must be reported again (the patient's new identifier, ID-4).
- ``reports``: per dose version and receiver (NVR, NPÖ), what was sent under which
  identifier and what the receiver answered. One row per (dose, receiver, version): a version
  is reported at most once by the ledger (``uq_reports_administration_id_receiver_version``),
  and the receiver's idempotency (a stable key per dose version) is the second line.
- ``patients``: the identifier each patient is reported under (identity's events).
- ``historical_doses``: doses entered by hand, for the control report (RX-3); never reported.
- ``runs``: NVR runs, nightly or asked for by an operator.

For the statistics of regional infection control (RX-4):

- ``patients`` also keeps the register's birth date and municipality (identity's events;
  never a protected person's municipality, ID-3), and each of the patient's ``doses`` and
  ``historical_doses`` a copy of them, changed in the same transaction: the coverage reads
  the doses' indexes alone, per vaccine and patient.
- ``population`` and ``population_count``: the register's persons per municipality and age
  band (identity's ``PopulationCounted``), the coverage's denominators.
- ``vaccines``: each vaccine's current name (the journal's events).
- ``stock_batches`` and ``stock_days``: each batch's balance and the doses delivered,
  administered, discarded and corrected per unit, vaccine and day (the inventory's events).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Identity,
    Index,
    Integer,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from vaccinera_kit.database import service_metadata

metadata = service_metadata()

# As the domain's receivers and report states.
RECEIVERS = "'nvr', 'npo'"
STATES = "'pending', 'acknowledged', 'failed', 'superseded'"


def _at(name: str, *, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


patients = Table(
    "patients",
    metadata,
    Column("patient_id", Text, primary_key=True),
    Column("identifier", Text, nullable=False),
    Column("identifier_kind", Text, nullable=False),
    # From the population register (RX-4): None for reserve numbers and persons it does not
    # know; the municipality also None for a protected person (ID-3).
    Column("municipality_code", Text, nullable=True),
    Column("birth_date", Date, nullable=True),
)


def _residence() -> tuple[Column[object], Column[object]]:
    """The patient's register facts on each dose (RX-4), as ``patients`` holds them."""
    return Column("municipality_code", Text, nullable=True), Column(
        "birth_date", Date, nullable=True
    )


doses = Table(
    "doses",
    metadata,
    Column("administration_id", Text, primary_key=True),
    Column("patient_id", Text, nullable=False),
    Column("vaccine_id", Text, nullable=False),
    Column("vaccine_name", Text, nullable=False),
    Column("atc_code", Text, nullable=True),
    Column("dose_number", Integer, nullable=False),
    Column("batch_number", Text, nullable=False),
    Column("unit_id", Text, nullable=False),
    Column("care_provider_id", Text, nullable=False),
    _at("administered_at"),
    Column("vaccinator_hsa_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    *_residence(),
    # A patient's doses, to report them again under a new identifier.
    Index("ix_doses_patient_id", "patient_id"),
    # The coverage (RX-4): each patient's highest dose of a vaccine, where it was given and
    # the patient's place, read from the index alone.
    Index(
        "ix_doses_coverage",
        "vaccine_id",
        "patient_id",
        "dose_number",
        postgresql_include=["unit_id", "care_provider_id", "municipality_code", "birth_date"],
    ),
)

reports = Table(
    "reports",
    metadata,
    Column("report_id", BigInteger, Identity(), primary_key=True),
    Column("administration_id", Text, nullable=False),
    Column("receiver", Text, nullable=False),
    Column("version", Integer, nullable=False),
    # The identifier and its kind the version is reported under.
    Column("identifier", Text, nullable=False),
    Column("identifier_kind", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    _at("due_at"),
    Column("answer_status", Integer, nullable=True),
    Column("answer", Text, nullable=True),
    Column("receiver_ref", Text, nullable=True),
    _at("created_at"),
    _at("acknowledged_at", nullable=True),
    CheckConstraint(f"receiver IN ({RECEIVERS})", name="receiver"),
    CheckConstraint(f"state IN ({STATES})", name="state"),
    UniqueConstraint("administration_id", "receiver", "version"),
    # What is due for a receiver, first due first: the sender's claim.
    Index(
        "ix_reports_due",
        "receiver",
        "due_at",
        postgresql_where=text("state = 'pending'"),
    ),
    # The operator's view: counts per receiver and state (an index-only scan).
    Index("ix_reports_receiver_state", "receiver", "state"),
    # A page of the reports in a state (e.g. the failed ones), newest first.
    Index("ix_reports_state_report_id", "state", "report_id"),
)

historical_doses = Table(
    "historical_doses",
    metadata,
    Column("historical_dose_id", Text, primary_key=True),
    Column("patient_id", Text, nullable=False),
    # Kept since revision 0003 (RX-4: a dose given abroad covers the person); None before.
    Column("vaccine_id", Text, nullable=True),
    Column("vaccine_name", Text, nullable=False),
    Column("dose_number", Integer, nullable=False),
    Column("given_on", Date, nullable=False),
    Column("country", Text, nullable=True),
    Column("comment", Text, nullable=True),
    Column("unit_id", Text, nullable=False),
    Column("care_provider_id", Text, nullable=False),
    _at("recorded_at"),
    Column("recorded_by_hsa_id", Text, nullable=False),
    *_residence(),
    # The control report: a unit's entries of a period.
    Index("ix_historical_doses_unit_id_recorded_at", "unit_id", "recorded_at"),
    # A patient's entries, to follow the patient's register facts (RX-4).
    Index("ix_historical_doses_patient_id", "patient_id"),
    # The coverage (RX-4), as ``ix_doses_coverage``.
    Index(
        "ix_historical_doses_coverage",
        "vaccine_id",
        "patient_id",
        "dose_number",
        postgresql_include=["municipality_code", "birth_date"],
    ),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", BigInteger, Identity(), primary_key=True),
    Column("receiver", Text, nullable=False),
    Column("requested_by", Text, nullable=True),
    _at("requested_at"),
    _at("started_at", nullable=True),
    # Renewed by the replica running it after every batch: a run whose replica died (its
    # heartbeat older than the lease) is taken over by another, or by the restarted one.
    _at("heartbeat_at", nullable=True),
    _at("finished_at", nullable=True),
    Column("sent", Integer, nullable=False, server_default=text("0")),
    Column("failed", Integer, nullable=False, server_default=text("0")),
    CheckConstraint(f"receiver IN ({RECEIVERS})", name="receiver"),
    # The next run to start, and the last finished (when the next nightly run is due).
    Index("ix_runs_receiver_started_at", "receiver", "started_at"),
    # Runs waiting or running (a replica's poll: start one, or take over a dead one's).
    Index(
        "ix_runs_unfinished",
        "receiver",
        "requested_at",
        postgresql_where=text("finished_at IS NULL"),
    ),
    # One nightly run waits at a time, however many replicas schedule it.
    Index(
        "uq_runs_one_scheduled_waiting",
        "receiver",
        unique=True,
        postgresql_where=text("started_at IS NULL AND requested_by = 'schedule'"),
    ),
)

# --- statistics for regional infection control (RX-4) -------------------------------------------

# The register's latest count (one row, ``key`` = "population"): when, and the day its ages
# are counted on (the coverage's ages are counted on the same day).
population_count = Table(
    "population_count",
    metadata,
    Column("key", Text, primary_key=True),
    _at("counted_at"),
    Column("ages_on", Date, nullable=False),
)

# Its rows, replaced whole by a newer count. No municipality: protected persons (ID-3).
population = Table(
    "population",
    metadata,
    Column("position", Integer, primary_key=True),
    Column("municipality_code", Text, nullable=True),
    Column("municipality", Text, nullable=True),
    Column("age_band", Text, nullable=False),
    Column("persons", Integer, nullable=False),
    CheckConstraint("persons >= 0", name="persons_not_negative"),
)

vaccines = Table(
    "vaccines",
    metadata,
    Column("vaccine_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    # The latest VaccineRenamed applied: an older one arriving later changes nothing.
    _at("renamed_at", nullable=True),
)

# Each batch's balance, as the inventory's events last said (they are keyed by batch: in order).
stock_batches = Table(
    "stock_batches",
    metadata,
    Column("batch_id", Text, primary_key=True),
    Column("unit_id", Text, nullable=False),
    Column("care_provider_id", Text, nullable=False),
    Column("vaccine_id", Text, nullable=False),
    # None while only a StockChanged of the batch has arrived.
    Column("expires_on", Date, nullable=True),
    Column("balance", Integer, nullable=False),
    _at("changed_at"),
    CheckConstraint("balance >= 0", name="balance_not_negative"),
    # The stock now: only batches with doses left, read from the index alone.
    Index(
        "ix_stock_batches_in_stock",
        "unit_id",
        "care_provider_id",
        "vaccine_id",
        postgresql_include=["expires_on", "balance"],
        postgresql_where=text("balance > 0"),
    ),
)

# Doses in and out per unit, vaccine and day (the region's day): the period's consumption reads
# the period's days, never every movement.
stock_days = Table(
    "stock_days",
    metadata,
    Column("day", Date, primary_key=True),
    Column("unit_id", Text, primary_key=True),
    Column("care_provider_id", Text, primary_key=True),
    Column("vaccine_id", Text, primary_key=True),
    Column("delivered", Integer, nullable=False, server_default=text("0")),
    Column("administered", Integer, nullable=False, server_default=text("0")),
    Column("discarded", Integer, nullable=False, server_default=text("0")),
    # The corrections' net change (a count may find more or fewer doses).
    Column("corrected", Integer, nullable=False, server_default=text("0")),
)
