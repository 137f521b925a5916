"""Alembic environment of the notifications service; vaccinera_kit.migrations runs it at start."""

from vaccinera_kit.migrations import run_env
from vaccinera_notifications.tables import metadata

run_env(metadata)
