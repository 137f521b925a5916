"""Settings of the booking service (environment variables prefixed VACCINERA_)."""

from datetime import timedelta
from pathlib import Path

from pydantic import Field

from vaccinera_booking.domain.manage_codes import AttemptLimits
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
    # Managing a booking by reference and SMS code (BK-2): attempts per client address and per
    # reference in each window (429 with Retry-After above either).
    manage_attempts_per_client: int = Field(default=20, ge=1)
    manage_attempts_per_reference: int = Field(default=10, ge=1)
    manage_attempt_window_seconds: float = Field(default=900.0, gt=0)

    @property
    def manage_limits(self) -> AttemptLimits:
        return AttemptLimits(
            per_client=self.manage_attempts_per_client,
            per_reference=self.manage_attempts_per_reference,
            window=timedelta(seconds=self.manage_attempt_window_seconds),
        )
