"""Alembic environment of the identity service; vaccinera_kit.migrations runs it at start."""

from vaccinera_identity.tables import metadata
from vaccinera_kit.migrations import run_env

run_env(metadata)
