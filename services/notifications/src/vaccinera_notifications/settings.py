"""Settings of the notifications service (environment variables prefixed VACCINERA_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from vaccinera_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "notifications"

    # Identity: whose record a citizen's login is (AC-5), and where to send an SMS (asked by
    # the sender for each batch, with this service's own token: issue 9, ID-3).
    identity_url: str = "http://127.0.0.1:8001"
    identity_timeout_seconds: float = Field(default=5.0, gt=0)
    # This service's own token (OAuth 2.0 client credentials; the client id is service_name):
    # the identity provider's token endpoint and the file holding the client secret.
    token_url: str | None = None
    client_secret_file: Path | None = None

    # The SMS provider (locally the stand-in of vaccinera_devstack).
    sms_provider_url: str = "http://127.0.0.1:18081"
    sms_sender: str = Field(default="Vaccinera", min_length=1, max_length=11)
    # The private key that opens the manage codes booking seals to this service (PEM, PKCS#8;
    # ``vaccinera_kit.sealed``). Only the sender uses it, to put the code into the SMS.
    manage_code_private_key_file: Path | None = None
    sms_timeout_seconds: float = Field(default=10.0, gt=0)
    # Texts show the visit's date and time in the region's time zone.
    timezone: str = "Europe/Stockholm"

    # Reminders before dose-1 and dose-2 visits, hours before the start (NT-1).
    reminder_lead_hours: list[float] = Field(default_factory=lambda: [24.0, 2.0])

    # The sender worker (NT-4).
    # A handler's commit wakes every replica's sender at once (NOTIFY); polling only finds
    # retries, reminders falling due and leases running out.
    sender_poll_interval: float = Field(default=1.0, gt=0)
    # How long a claim holds; a claim older than this was abandoned (crashed replica).
    sender_lease_seconds: float = Field(default=30.0, gt=0)
    sender_max_attempts: int = Field(default=10, ge=1)
    # Sends in flight per replica (also the most one claim takes).
    sender_concurrency: int = Field(default=16, ge=1, le=256)
    sender_backoff_seconds: float = Field(default=0.5, gt=0)
    sender_backoff_max_seconds: float = Field(default=60.0, gt=0)
    # A patient booked a moment before staff enter the mobile: a message finding no number
    # waits this long (identity's ContactDetailsChanged wakes it at once) before it counts as
    # "no mobile number".
    contact_wait_seconds: float = Field(default=5.0, ge=0)

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> Settings:
        # A claim must outlive asking identity and one provider call, or a slow send is claimed
        # again meanwhile.
        if self.sender_lease_seconds <= self.sms_timeout_seconds + self.identity_timeout_seconds:
            raise ValueError(
                "sender_lease_seconds must be longer than sms_timeout_seconds + "
                "identity_timeout_seconds"
            )
        return self
