"""The inventory's tables (PostgreSQL): vaccines (names from the journal's catalogue), batches
with their balance, every movement of a balance, the administrations received (once each),
low-stock levels and quick lists.

The database keeps what must hold under any concurrency: ``ck_batches_balance_not_negative``
(a balance never goes below zero, IN-2), one batch per unit, vaccine and batch number, and one
row per administration id, so an administration is subtracted at most once whatever Kafka
redelivers.
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
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY

from vaccinera_kit.database import service_metadata

metadata = service_metadata()

# As the domain's StockChanged.change and batches.DISCREPANCIES.
CHANGES = "'checked_in', 'administered', 'discarded', 'corrected'"
DISCREPANCIES = "'empty', 'unknown_batch', 'expired'"


def _at(name: str, *, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


vaccines = Table(
    "vaccines",
    metadata,
    Column("vaccine_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    # The journal's last rename (JR-1); a rename older than it is not applied.
    _at("renamed_at", nullable=True),
)

batches = Table(
    "batches",
    metadata,
    Column("batch_id", Text, primary_key=True),
    Column("unit_id", Text, nullable=False),
    Column("care_provider_id", Text, nullable=False),
    Column("vaccine_id", Text, ForeignKey("vaccines.vaccine_id"), nullable=False),
    Column("batch_number", Text, nullable=False),
    Column("expires_on", Date, nullable=False),
    Column("balance", Integer, nullable=False),
    Column("delivered", Integer, nullable=False),
    _at("checked_in_at"),
    # IN-2: never below zero; only a correction sets a balance other than by counting down.
    CheckConstraint("balance >= 0", name="balance_not_negative"),
    CheckConstraint("delivered >= 0", name="delivered_not_negative"),
    # A second delivery of a batch number to the unit adds to the same batch; serves the
    # unit's batches (unit equal) too.
    UniqueConstraint("unit_id", "vaccine_id", "batch_number"),
    # Batches with doses left, for the unit's stock, the usable sum of a low-stock check and
    # the regional overview: an index-only scan that never reads the empty batches of history.
    Index(
        "ix_batches_in_stock",
        "unit_id",
        "vaccine_id",
        "expires_on",
        postgresql_include=["care_provider_id", "balance"],
        postgresql_where=text("balance > 0"),
    ),
)

movements = Table(
    "movements",
    metadata,
    Column("movement_id", BigInteger, Identity(), primary_key=True),
    Column("batch_id", Text, ForeignKey("batches.batch_id"), nullable=False),
    Column("unit_id", Text, nullable=False),
    Column("care_provider_id", Text, nullable=False),
    Column("vaccine_id", Text, nullable=False),
    Column("change", Text, nullable=False),
    # Signed: doses in (check-in, a correction up) or out.
    Column("delta", Integer, nullable=False),
    Column("balance", Integer, nullable=False),
    Column("reason", Text, nullable=True),
    Column("by_hsa_id", Text, nullable=True),
    Column("administration_id", Text, nullable=True),
    Column("delivery_id", Text, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(f"change IN ({CHANGES})", name="change"),
    CheckConstraint("balance >= 0", name="balance_not_negative"),
    # A batch's history, newest first.
    Index("ix_movements_batch_id_movement_id", "batch_id", "movement_id"),
    # Consumption over a period (IN-5): an index-only range scan of the period's movements.
    Index(
        "ix_movements_at",
        "at",
        postgresql_include=["unit_id", "care_provider_id", "vaccine_id", "change", "delta"],
    ),
)

administrations = Table(
    "administrations",
    metadata,
    # One row per administration: the second delivery of one (another event id, a replay)
    # finds it and changes nothing (IN-2).
    Column("administration_id", Text, primary_key=True),
    # Not a foreign key: an administration may name a batch this inventory does not hold.
    Column("batch_id", Text, nullable=False),
    Column("unit_id", Text, nullable=False),
    Column("care_provider_id", Text, nullable=False),
    Column("vaccine_id", Text, nullable=False),
    _at("administered_at"),
    Column("decremented", Boolean, nullable=False),
    Column("discrepancy", Text, nullable=True),
    _at("resolved_at", nullable=True),
    Column("resolved_by", Text, nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(f"discrepancy IN ({DISCREPANCIES})", name="discrepancy"),
    # The unit's discrepancies for the stock administrator, newest first.
    Index(
        "ix_administrations_unit_id_recorded_at_discrepancy",
        "unit_id",
        "recorded_at",
        postgresql_where=text("discrepancy IS NOT NULL"),
    ),
    # Those a correction of the batch settles.
    Index(
        "ix_administrations_batch_id_open",
        "batch_id",
        postgresql_where=text("discrepancy IS NOT NULL AND resolved_at IS NULL"),
    ),
)

low_stock_levels = Table(
    "low_stock_levels",
    metadata,
    Column("unit_id", Text, nullable=False),
    Column("vaccine_id", Text, ForeignKey("vaccines.vaccine_id"), nullable=False),
    Column("care_provider_id", Text, nullable=False),
    Column("level", Integer, nullable=False),
    # StockLow published for the current crossing (IN-6: once per crossing).
    Column("low", Boolean, nullable=False, server_default=text("false")),
    Column("set_by", Text, nullable=True),
    Column("set_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("unit_id", "vaccine_id"),
    CheckConstraint("level >= 0", name="level_not_negative"),
)

quick_lists = Table(
    "quick_lists",
    metadata,
    Column("unit_id", Text, primary_key=True),
    # In the unit's order; the first is the order form's default (IN-4).
    Column("vaccine_ids", ARRAY(Text), nullable=False),
    Column("changed_by", Text, nullable=True),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
