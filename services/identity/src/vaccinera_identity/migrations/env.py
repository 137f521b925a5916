"""Alembic environment of the identity service; vaccinera_kit.migrations runs it at start."""

from vaccinera_kit.migrations import run_env
from vaccinera_identity.tables import metadata

run_env(metadata)
