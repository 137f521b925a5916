"""Settings of the inventory service (environment variables prefixed VACCINERA_)."""

from pydantic import Field

from vaccinera_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "inventory"
    # How often every low-stock level is assessed again, for stock that fell to its level by
    # expiring rather than by a change (IN-6); seconds.
    low_stock_check_interval: float = Field(default=300.0, gt=0)
