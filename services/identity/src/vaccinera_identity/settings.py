"""Settings of the identity service (environment variables prefixed VACCINERA_)."""

import re
from functools import cached_property

from pydantic import Field

from vaccinera_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "identity"
    # Reserve numbers the region issues (ID-1): prefix (county code 05, Östergötland, + "R")
    # and zero-padded sequence, e.g. 05R000000042. Must match ``reserve_number_pattern``.
    reserve_prefix: str = "05R"
    reserve_digits: int = Field(default=9, ge=4, le=12)
    reserve_number_pattern: str = r"^\d{2}R\d{9}$"
    # Population register lookups are cached (ID-2).
    register_cache_seconds: float = 3600.0

    @cached_property
    def reserve_pattern(self) -> re.Pattern[str]:
        return re.compile(self.reserve_number_pattern)
