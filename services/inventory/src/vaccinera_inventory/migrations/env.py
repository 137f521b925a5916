"""Alembic environment of the inventory service; vaccinera_kit.migrations runs it at start."""

from vaccinera_inventory.tables import metadata
from vaccinera_kit.migrations import run_env

run_env(metadata)
