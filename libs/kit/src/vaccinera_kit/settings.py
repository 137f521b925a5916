"""Service settings from the environment (twelve-factor, pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound="HttpSettings")


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
    database_url: str | None = Field(
        default=None,
        description="postgresql://role:password@host:port/database; defaults to the local "
        "stack's vaccinera_<service> database, one per service.",
    )
    database_pool_size: int = Field(default=10, ge=1)
    database_max_overflow: int = Field(default=10, ge=0)

    # Admission control: requests in flight per process, and how long one may take before it
    # is rolled back and answered 503 (the gateway's upstream timeout is longer).
    max_in_flight: int = Field(default=200, ge=1)
    request_deadline: float = Field(default=10.0, gt=0)

    consumer_max_attempts: int = Field(default=3, ge=1)
    # Partitions of one poll handled side by side (useful up to the topic's partitions: 3);
    # each partition's records in offset order.
    consumer_workers: int = Field(default=3, ge=1)
    # Commits wake the relay (in process and by NOTIFY); the poll only finds what a replica
    # that died left behind.
    relay_poll_interval: float = Field(default=1.0, gt=0)
    relay_batch: int = Field(default=500, ge=1)

    @property
    def database_dsn(self) -> str:
        if self.database_url:
            return self.database_url
        name = f"vaccinera_{self.service_name.replace('-', '_')}"
        return f"postgresql://{name}:dev-{name}@127.0.0.1:15432/{name}"


def settings_as(settings: HttpSettings, settings_class: type[S]) -> S:
    """``settings`` as the service's own settings class (a service is always built with it)."""
    if not isinstance(settings, settings_class):
        raise TypeError(
            f"{settings.service_name} runs with {type(settings).__name__}, "
            f"not {settings_class.__name__}: build it with its main.create_service"
        )
    return settings
