"""Alembic environment of the inventory service; vaccinera_kit.migrations runs it at start."""

from vaccinera_kit.migrations import run_env
from vaccinera_inventory.tables import metadata

run_env(metadata)
