"""Identity's tables (PostgreSQL): patients, the reserve-number sequence, the access log and
the synthetic population register.

Two rules live in the database itself, so no code path can break them:
``ck_patients_protected_has_no_contact`` (ID-3: a protected person's phone, e-mail and address
are never stored) and the unique index on the identifier (one patient per identifier, ID-1).
The access log is append-only (ID-7): a trigger refuses UPDATE, DELETE and TRUNCATE.
"""

from __future__ import annotations

from sqlalchemy import (
    DDL,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    Sequence,
    Table,
    Text,
    Uuid,
    event,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from vaccinera_kit.database import service_metadata

metadata = service_metadata()

IDENTIFIER_KINDS = ("personnummer", "samordningsnummer", "reservnummer")

patients = Table(
    "patients",
    metadata,
    # Text, not uuid: an id from a URL is compared, never cast (a malformed one is a 404).
    Column("patient_id", Text, primary_key=True),
    Column("identifier_kind", Text, nullable=False),
    Column("identifier_value", Text, nullable=False),
    Column("protected", Boolean, nullable=False),
    Column("given_name", Text, nullable=False),
    Column("family_name", Text, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("mobile", Text, nullable=True),
    Column("email", Text, nullable=True),
    Column("address_street", Text, nullable=True),
    Column("address_postal_code", Text, nullable=True),
    Column("address_city", Text, nullable=True),
    # Value objects of the patient, always read and written with it and never queried on
    # their own (other services learn them from BlocksChanged / ConsentsChanged).
    Column("blocks", JSONB, nullable=False),
    Column("consents", JSONB, nullable=False),
    # Optimistic concurrency: a save names the version it read.
    Column("version", Integer, nullable=False),
    CheckConstraint(
        "identifier_kind IN ('personnummer', 'samordningsnummer', 'reservnummer')",
        name="identifier_kind",
    ),
    CheckConstraint(
        "NOT protected OR (mobile IS NULL AND email IS NULL AND address_street IS NULL "
        "AND address_postal_code IS NULL AND address_city IS NULL)",
        name="protected_has_no_contact",
    ),
    CheckConstraint(
        "(address_street IS NULL) = (address_postal_code IS NULL) "
        "AND (address_street IS NULL) = (address_city IS NULL)",
        name="address_whole_or_absent",
    ),
    Index("uq_patients_identifier_value", "identifier_value", unique=True),
)

# Reserve numbers (ID-1): never handed out twice, also with several replicas. A number taken
# by a transaction that rolls back stays unused (gaps are harmless, duplicates are not).
reserve_numbers = Sequence("reserve_numbers", start=1, metadata=metadata)

access_log = Table(
    "access_log",
    metadata,
    # The AccessRecorded event's id: a redelivered event is inserted once.
    Column("event_id", Uuid, primary_key=True),
    Column("patient_id", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("operation", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor_kind", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("hsa_id", Text, nullable=True),
    Column("assignment_id", Text, nullable=True),
    Column("role", Text, nullable=True),
    Column("unit_id", Text, nullable=True),
    Column("care_provider_id", Text, nullable=True),
    # "Who touched this patient, newest first" (ID-7) reads this index and nothing else.
    Index("ix_access_log_patient_id_at", "patient_id", text("at DESC")),
)

# ID-7 in the database: the access log is only ever appended to. The migration runs the same
# statements.
ACCESS_LOG_APPEND_ONLY = (
    "CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'the access log is append-only'; END $$",
    "CREATE TRIGGER access_log_no_update_or_delete BEFORE UPDATE OR DELETE ON access_log "
    "FOR EACH ROW EXECUTE FUNCTION access_log_append_only()",
    "CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only()",
)
for _statement in ACCESS_LOG_APPEND_ONLY:
    # Also when the tables are created from these definitions rather than by the migration.
    event.listen(access_log, "after_create", DDL(_statement))  # type: ignore[no-untyped-call]

# The synthetic population register (ID-2): ~480,000 persons of Östergötland, generated
# deterministically by ``SyntheticRegister`` and loaded with COPY at the first start.
population = Table(
    "population",
    metadata,
    # Canonical 12 digits: lookups go through the primary key index.
    Column("identifier", Text, primary_key=True),
    Column("given_name", Text, nullable=False),
    Column("family_name", Text, nullable=False),
    Column("protected", Boolean, nullable=False),
    Column("street", Text, nullable=True),
    Column("postal_code", Text, nullable=True),
    Column("city", Text, nullable=True),
    Column("municipality_code", Text, nullable=False),
    Column("municipality", Text, nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("sex", Text, nullable=False),
    # The register gives a protected person neither name nor address (ID-3).
    CheckConstraint(
        "NOT protected OR (given_name = '' AND family_name = '' AND street IS NULL "
        "AND postal_code IS NULL AND city IS NULL)",
        name="protected_has_no_name_or_address",
    ),
)

# Which population the table holds: one row, written in the transaction that loaded it, so a
# start that finds it knows the load completed (and for which seed and date). ``counted_at``:
# when its counts per municipality and age band were published (``PopulationCounted``, RX-4),
# in the same transaction; NULL for a register loaded before the counts existed.
population_load = Table(
    "population_load",
    metadata,
    Column("seed", Text, primary_key=True),
    Column("today", Date, nullable=False),
    Column("persons", Integer, nullable=False),
    Column("loaded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("counted_at", DateTime(timezone=True), nullable=True),
)
