"""Alembic environment of the booking service; vaccinera_kit.migrations runs it at start."""

from vaccinera_booking.tables import metadata
from vaccinera_kit.migrations import run_env

run_env(metadata)
