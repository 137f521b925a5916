"""Settings of the booking service (environment variables prefixed VACCINERA_)."""

from pathlib import Path

from vaccinera_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "booking"
    # Identity answers "who is this patient?" when booking's projection has not consumed the
    # patient's registration yet (a citizen's first booking, staff booking a patient just
    # added): asked once with the caller's authorization, then remembered.
    identity_url: str = "http://127.0.0.1:8001"
    # Notifications' public key (PEM): each manage code is sealed to it, so the code travels
    # to the SMS sender alone (issue 9). Required: booking does not start without it.
    manage_code_public_key_file: Path | None = None
    # How far ahead a lost race looks for the next free times (BK-4).
    next_free_days: int = 2
