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
    # A patient's doses, to report them again under a new identifier.
    Index("ix_doses_patient_id", "patient_id"),
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
    # The operator's view: counts per receiver and state, the failed ones.
    Index("ix_reports_receiver_state", "receiver", "state"),
)

historical_doses = Table(
    "historical_doses",
    metadata,
    Column("historical_dose_id", Text, primary_key=True),
    Column("patient_id", Text, nullable=False),
    Column("vaccine_name", Text, nullable=False),
    Column("dose_number", Integer, nullable=False),
    Column("given_on", Date, nullable=False),
    Column("country", Text, nullable=True),
    Column("comment", Text, nullable=True),
    Column("unit_id", Text, nullable=False),
    Column("care_provider_id", Text, nullable=False),
    _at("recorded_at"),
    Column("recorded_by_hsa_id", Text, nullable=False),
    # The control report: a unit's entries of a period.
    Index("ix_historical_doses_unit_id_recorded_at", "unit_id", "recorded_at"),
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
    # One nightly run waits at a time, however many replicas schedule it.
    Index(
        "uq_runs_one_scheduled_waiting",
        "receiver",
        unique=True,
        postgresql_where=text("started_at IS NULL AND requested_by = 'schedule'"),
    ),
)
