"""Settings of the notifications service (environment variables prefixed VACCINERA_)."""

from vaccinera_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "notifications"
