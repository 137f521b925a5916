"""Alembic environment of the journal service; vaccinera_kit.migrations runs it at start."""

from vaccinera_journal.tables import metadata
from vaccinera_kit.migrations import run_env

run_env(metadata)
