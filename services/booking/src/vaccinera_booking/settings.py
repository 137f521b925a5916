"""Settings of the booking service (environment variables prefixed VACCINERA_)."""

from vaccinera_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "booking"
    # Identity answers "who is this citizen?" when a citizen books before booking has seen the
    # patient's registration event: a user-facing read of authoritative data.
    identity_url: str = "http://127.0.0.1:8001"
    # How far ahead a lost race looks for the next free times (BK-4).
    next_free_days: int = 2
