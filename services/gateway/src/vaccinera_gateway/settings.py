"""Gateway settings (environment variables prefixed VACCINERA_)."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from vaccinera_kit.settings import HttpSettings

DEFAULT_SERVICE_URLS = {
    "identity": "http://127.0.0.1:8001",
    "booking": "http://127.0.0.1:8002",
    "journal": "http://127.0.0.1:8003",
    "inventory": "http://127.0.0.1:8004",
    "notifications": "http://127.0.0.1:8005",
    "registry-export": "http://127.0.0.1:8006",
}

# For the web pages to come, served by the gateway: their own scripts, styles and images only,
# never framed, no plugins, no <base> games, forms posting home. An API answer (JSON) carries
# it too: it costs nothing and keeps a sniffed or framed answer harmless.
DEFAULT_CSP = (
    "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)

_HEADER_VALUE = re.compile(r"[\x20-\x7e]*")


class Settings(HttpSettings):
    service_name: str = "gateway"
    service_urls: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_SERVICE_URLS),
        description="Service name -> base URL, as JSON in VACCINERA_SERVICE_URLS.",
    )
    # Longer than a service's own request deadline (10 s): the service answers first, with a
    # 503 that promises nothing was changed, and the gateway relays that instead of guessing.
    upstream_timeout: float = 15.0

    # --- the edge (vaccinera_gateway.edge) ---
    max_body_bytes: int = Field(
        default=1024 * 1024,
        ge=0,
        description="The largest request body accepted (413 above it), chunked or not.",
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins whose pages may call the API from a browser, as JSON in "
        'VACCINERA_CORS_ORIGINS, e.g. ["https://boka.example.se"]; "*" for any. Empty: no '
        "cross-origin call is allowed.",
    )
    cors_allow_credentials: bool = Field(
        default=False,
        description='Let browsers send cookies along (never with "*"). Bearer tokens do not '
        "need it.",
    )
    cors_max_age: int = Field(default=600, ge=0, description="Seconds a preflight is cached.")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or networks (CIDR) of the proxies in front of the gateway (the "
        "TLS-terminating ingress) whose X-Forwarded-* headers are believed, as JSON in "
        "VACCINERA_TRUSTED_PROXIES. Empty: none.",
    )
    content_security_policy: str = DEFAULT_CSP
    strict_transport_security: str = Field(
        default="max-age=31536000; includeSubDomains",
        description="Sent only on requests that came over TLS.",
    )
    docs_assets_url: str = Field(
        default="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.35.0",
        description="Where /docs loads Swagger UI from: swagger-ui-dist 5.35.0's files (their "
        "hashes are checked by the browser), from the CDN or a copy of them.",
    )

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        checked = []
        for origin in origins:
            origin = origin.strip().rstrip("/")
            if origin != "*":
                parts = urlsplit(origin)
                if (
                    parts.scheme not in ("http", "https")
                    or not parts.hostname
                    or parts.path
                    or parts.query
                    or parts.fragment
                    or parts.username is not None
                ):
                    raise ValueError(
                        f"{origin!r} is not an origin: scheme://host[:port], nothing after"
                    )
                origin = f"{parts.scheme}://{parts.netloc.lower()}"
            checked.append(origin)
        return checked

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, proxies: list[str]) -> list[str]:
        return [str(ipaddress.ip_network(p.strip(), strict=False)) for p in proxies]

    @field_validator("content_security_policy", "strict_transport_security")
    @classmethod
    def _header_value(cls, value: str) -> str:
        if not _HEADER_VALUE.fullmatch(value):
            raise ValueError("a header value: printable ASCII, no line breaks")
        return value

    @model_validator(mode="after")
    def _no_credentials_for_everyone(self) -> Settings:
        if self.cors_allow_credentials and "*" in self.cors_origins:
            raise ValueError(
                'cors_allow_credentials cannot be used with the origin "*": name the origins'
            )
        return self
