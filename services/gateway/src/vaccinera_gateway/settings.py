"""Gateway settings (environment variables prefixed VACCINERA_)."""

from pydantic import Field

from vaccinera_kit.settings import HttpSettings

DEFAULT_SERVICE_URLS = {
    "identity": "http://127.0.0.1:8001",
    "booking": "http://127.0.0.1:8002",
    "journal": "http://127.0.0.1:8003",
    "inventory": "http://127.0.0.1:8004",
    "notifications": "http://127.0.0.1:8005",
    "registry-export": "http://127.0.0.1:8006",
}


class Settings(HttpSettings):
    service_name: str = "gateway"
    service_urls: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_SERVICE_URLS),
        description="Service name -> base URL, as JSON in VACCINERA_SERVICE_URLS.",
    )
    # Longer than a service's own request deadline (10 s): the service answers first, with a
    # 503 that promises nothing was changed, and the gateway relays that instead of guessing.
    upstream_timeout: float = 15.0
