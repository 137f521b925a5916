"""Alembic environment of the registry_export service; vaccinera_kit.migrations runs it at start."""

from vaccinera_kit.migrations import run_env
from vaccinera_registry_export.tables import metadata

run_env(metadata)
