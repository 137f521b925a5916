"""Service settings from the environment (twelve-factor, pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class HttpSettings(BaseSettings):
    """What every HTTP process shares, the gateway included."""

    model_config = SettingsConfigDict(env_prefix="VACCINERA_", extra="ignore")

    service_name: str
    http_host: str = "127.0.0.1"
    http_port: int = 8000

    # Token verification (AC-1): a PEM public key file, or the identity provider's JWKS URL.
    jwt_public_key_file: Path | None = None
    jwks_url: str | None = None
    jwt_issuer: str = "vaccinera-dev-idp"
    jwt_audience: str = "vaccinera"

    otel_exporter: Literal["none", "console", "otlp", "memory"] = "none"
    otel_console_path: Path | None = Field(
        default=None, description="With the console exporter: append JSON spans here."
    )
    otlp_endpoint: str | None = None

    log_level: str = "INFO"


class ServiceSettings(HttpSettings):
    """A domain service: it also owns a database and talks to Kafka."""

    kafka_bootstrap: str = "127.0.0.1:19092"
    mongo_url: str = "mongodb://127.0.0.1:27018/"
    mongo_database: str | None = Field(
        default=None, description="Defaults to vaccinera_<service>: one database per service."
    )

    consumer_max_attempts: int = Field(default=3, ge=1)
    # A local write wakes the relay at once; polling only finds what a crash left behind, and
    # on FerretDB each poll scans the outbox collections, so it is kept slow.
    relay_poll_interval: float = Field(default=2.0, gt=0)
    relay_lease_seconds: float = Field(default=5.0, gt=0)

    @property
    def database_name(self) -> str:
        return self.mongo_database or f"vaccinera_{self.service_name.replace('-', '_')}"
