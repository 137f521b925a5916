"""Settings of the inventory service (environment variables prefixed VACCINERA_)."""

from vaccinera_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "inventory"
