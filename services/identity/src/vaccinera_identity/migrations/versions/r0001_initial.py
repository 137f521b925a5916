"""Identity's tables: patients, reserve-number sequence, append-only access log, synthetic
population register (and its load marker); the kit's tables.

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

# Names are given whole (op.f): Alembic would apply tables.py's naming convention again.
# The statements are as in tables.py when this revision was written; never edit them here.
ACCESS_LOG_APPEND_ONLY = (
    "CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'the access log is append-only'; END $$",
    "CREATE TRIGGER access_log_no_update_or_delete BEFORE UPDATE OR DELETE ON access_log "
    "FOR EACH ROW EXECUTE FUNCTION access_log_append_only()",
    "CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only()",
)


def upgrade() -> None:
    create_kit_tables_v1()

    op.create_table(
        "patients",
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("identifier_kind", sa.Text(), nullable=False),
        sa.Column("identifier_value", sa.Text(), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("given_name", sa.Text(), nullable=False),
        sa.Column("family_name", sa.Text(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mobile", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("address_street", sa.Text(), nullable=True),
        sa.Column("address_postal_code", sa.Text(), nullable=True),
        sa.Column("address_city", sa.Text(), nullable=True),
        sa.Column("blocks", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("consents", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "identifier_kind IN ('personnummer', 'samordningsnummer', 'reservnummer')",
            name=op.f("ck_patients_identifier_kind"),
        ),
        sa.CheckConstraint(
            "NOT protected OR (mobile IS NULL AND email IS NULL AND address_street IS NULL "
            "AND address_postal_code IS NULL AND address_city IS NULL)",
            name=op.f("ck_patients_protected_has_no_contact"),
        ),
        sa.CheckConstraint(
            "(address_street IS NULL) = (address_postal_code IS NULL) "
            "AND (address_street IS NULL) = (address_city IS NULL)",
            name=op.f("ck_patients_address_whole_or_absent"),
        ),
        sa.PrimaryKeyConstraint("patient_id", name=op.f("pk_patients")),
    )
    op.create_index("uq_patients_identifier_value", "patients", ["identifier_value"], unique=True)

    op.execute(sa.schema.CreateSequence(sa.Sequence("reserve_numbers", start=1)))

    op.create_table(
        "access_log",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("patient_id", sa.Text(), nullable=False),
        sa.Column("service", sa.Text(), nullable=False),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("hsa_id", sa.Text(), nullable=True),
        sa.Column("assignment_id", sa.Text(), nullable=True),
        sa.Column("role", sa.Text(), nullable=True),
        sa.Column("unit_id", sa.Text(), nullable=True),
        sa.Column("care_provider_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_access_log")),
    )
    op.create_index(
        "ix_access_log_patient_id_at",
        "access_log",
        ["patient_id", sa.literal_column("at DESC")],
    )
    for statement in ACCESS_LOG_APPEND_ONLY:
        op.execute(statement)

    op.create_table(
        "population",
        sa.Column("identifier", sa.Text(), nullable=False),
        sa.Column("given_name", sa.Text(), nullable=False),
        sa.Column("family_name", sa.Text(), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("street", sa.Text(), nullable=True),
        sa.Column("postal_code", sa.Text(), nullable=True),
        sa.Column("city", sa.Text(), nullable=True),
        sa.Column("municipality_code", sa.Text(), nullable=False),
        sa.Column("municipality", sa.Text(), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "NOT protected OR (given_name = '' AND family_name = '' AND street IS NULL "
            "AND postal_code IS NULL AND city IS NULL)",
            name=op.f("ck_population_protected_has_no_name_or_address"),
        ),
        sa.PrimaryKeyConstraint("identifier", name=op.f("pk_population")),
    )
    op.create_table(
        "population_load",
        sa.Column("seed", sa.Text(), nullable=False),
        sa.Column("today", sa.Date(), nullable=False),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.Column(
            "loaded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("seed", name=op.f("pk_population_load")),
    )


def downgrade() -> None:
    op.drop_table("population_load")
    op.drop_table("population")
    op.drop_table("access_log")
    op.execute("DROP FUNCTION access_log_append_only()")
    op.execute(sa.schema.DropSequence(sa.Sequence("reserve_numbers")))
    op.drop_table("patients")
    drop_kit_tables_v1()
