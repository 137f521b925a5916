"""The whole system on one machine: infrastructure, stand-ins, six services and the gateway.

Used by the README's start command and by the end-to-end tests, so both run the same thing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from vaccinera_contracts.topics import all_topics
from vaccinera_devstack import tokens
from vaccinera_devstack.idp.server import IdentityProviderServer
from vaccinera_devstack.infra import Infrastructure, Ports
from vaccinera_devstack.process import ManagedProcess, free_port
from vaccinera_devstack.sealing_keys import SealingKeys, ensure_manage_code_keys

SERVICE_MODULES: dict[str, str] = {
    "identity": "vaccinera_identity.main",
    "booking": "vaccinera_booking.main",
    "journal": "vaccinera_journal.main",
    "inventory": "vaccinera_inventory.main",
    "notifications": "vaccinera_notifications.main",
    "registry-export": "vaccinera_registry_export.main",
}
GATEWAY_MODULE = "vaccinera_gateway.main"
# Services that call another service for themselves, with their own client-credentials token
# (issue 9: the SMS sender asks identity where to send).
# Clients of the identity provider acting for themselves (client credentials): the SMS sender,
# and the region's registry operators' tool (issue 11: no AC-3 role may be a super-user).
SERVICE_CLIENTS = ("notifications", "registry-operator")

LOCAL_IDP_PORT = 8009
LOCAL_SERVICE_PORTS = {
    "gateway": 8000,
    "identity": 8001,
    "booking": 8002,
    "journal": 8003,
    "inventory": 8004,
    "notifications": 8005,
    "registry-export": 8006,
}


@dataclass
class PlatformPorts:
    infra: Ports
    services: dict[str, int]
    idp: int

    @classmethod
    def local(cls) -> PlatformPorts:
        return cls(Ports.local(), dict(LOCAL_SERVICE_PORTS), LOCAL_IDP_PORT)

    @classmethod
    def free(cls) -> PlatformPorts:
        return cls(Ports.free(), {name: free_port() for name in LOCAL_SERVICE_PORTS}, free_port())


@dataclass
class Platform:
    base_dir: Path
    ports: PlatformPorts
    # Extra environment for every service, e.g. the log level.
    extra_env: Mapping[str, str] = field(default_factory=dict)
    # Extra environment for one service, e.g. {"booking": {"VACCINERA_MAX_IN_FLIGHT": "10"}}.
    service_env_overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # When set, every service appends its spans as JSON lines to <spans_dir>/<service>.jsonl.
    spans_dir: Path | None = None
    # An infrastructure already running (the test session's): used, neither started nor stopped.
    shared_infra: Infrastructure | None = None
    infra: Infrastructure = field(init=False)
    processes: dict[str, ManagedProcess] = field(init=False, default_factory=dict)
    keys: tokens.DevKeys = field(init=False)
    # Booking seals each manage code to notifications' public key (issue 9).
    manage_code_keys: SealingKeys = field(init=False)
    client_secrets: dict[str, Path] = field(init=False)

    def __post_init__(self) -> None:
        self.infra = self.shared_infra or Infrastructure(
            self.base_dir, self.ports.infra, topics=all_topics()
        )
        self.keys = tokens.ensure_keys(self.base_dir / "keys")
        self.manage_code_keys = ensure_manage_code_keys(self.base_dir / "keys")
        # Services calling another for themselves (client credentials, issue 9): their secrets.
        self.client_secrets = {
            name: tokens.ensure_client_secret(self.base_dir / "keys", name)
            for name in SERVICE_CLIENTS
        }
        self.idp = IdentityProviderServer(
            self.ports.idp, self.base_dir / "keys", self.base_dir / "logs" / "idp.log"
        )

    @property
    def gateway_url(self) -> str:
        return self.url("gateway")

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports.services[name]}"

    def service_env(self, name: str) -> dict[str, str]:
        infra = self.ports.infra
        env = {
            **os.environ,
            "VACCINERA_SERVICE_NAME": name,
            "VACCINERA_HTTP_PORT": str(self.ports.services[name]),
            "VACCINERA_KAFKA_BOOTSTRAP": f"127.0.0.1:{infra.kafka}",
            "VACCINERA_JWKS_URL": self.idp.jwks_url,
            "VACCINERA_IDENTITY_URL": self.url("identity"),
            "VACCINERA_SMS_PROVIDER_URL": f"http://127.0.0.1:{infra.sms}",
            # The registers' FHIR bases (the stand-ins serve /<kind>/fhir/Immunization).
            "VACCINERA_NVR_URL": f"http://127.0.0.1:{infra.nvr}/nvr/fhir",
            "VACCINERA_NPO_URL": f"http://127.0.0.1:{infra.npo}/npo/fhir",
            **self.extra_env,
            **self.service_env_overrides.get(name, {}),
        }
        if name == "booking":
            env["VACCINERA_MANAGE_CODE_PUBLIC_KEY_FILE"] = str(self.manage_code_keys.public_pem)
        if name == "notifications":
            env["VACCINERA_MANAGE_CODE_PRIVATE_KEY_FILE"] = str(self.manage_code_keys.private_pem)
        if name in self.client_secrets:
            env["VACCINERA_TOKEN_URL"] = f"{self.idp.url}/token"
            env["VACCINERA_CLIENT_SECRET_FILE"] = str(self.client_secrets[name])
        if self.spans_dir is not None:
            env["VACCINERA_OTEL_EXPORTER"] = "console"
            env["VACCINERA_OTEL_CONSOLE_PATH"] = str(self.spans_dir / f"{name}.jsonl")
        if name == "gateway":
            env["VACCINERA_SERVICE_URLS"] = (
                "{" + ",".join(f'"{n}":"{self.url(n)}"' for n in SERVICE_MODULES) + "}"
            )
            # Loopback stands in for a deployment's load balancer: a caller on this machine
            # (a test) may name the client's address in X-Forwarded-For, as the balancer would.
            env.setdefault("VACCINERA_TRUSTED_PROXIES", '["127.0.0.1/32", "::1/128"]')
        else:
            # Each domain service gets its own database and role, reaching no other's.
            env["VACCINERA_DATABASE_URL"] = self.infra.database_url(name)
        return env

    def service_process(
        self, name: str, *, replica: int = 0, port: int | None = None
    ) -> ManagedProcess:
        """The process of a service; ``replica`` > 0 makes another replica, on ``port``."""
        module = GATEWAY_MODULE if name == "gateway" else SERVICE_MODULES[name]
        suffix = f"-{replica}" if replica else ""
        env = self.service_env(name)
        if replica:
            env["VACCINERA_HTTP_PORT"] = str(port or free_port())
        return ManagedProcess(
            f"{name}{suffix}",
            [sys.executable, "-m", module],
            self.base_dir / "logs" / f"{name}{suffix}.log",
            env=env,
        )

    def start(self, timeout: float = 120.0) -> None:
        if self.shared_infra is None:
            self.infra.start()
        self.idp.start()
        self.idp.wait_ready(timeout)
        for name in SERVICE_MODULES:
            self.processes[name] = self.service_process(name)
            self.processes[name].start()
        self.processes["gateway"] = self.service_process("gateway")
        self.processes["gateway"].start()
        with ThreadPoolExecutor(len(self.processes)) as pool:
            waits = [
                pool.submit(wait_ready, proc, self.url(name), timeout)
                for name, proc in self.processes.items()
            ]
            for wait in waits:
                wait.result()

    def stop(self) -> None:
        for proc in reversed(list(self.processes.values())):
            proc.stop()
        self.processes.clear()
        self.idp.stop()
        if self.shared_infra is None:
            self.infra.stop()

    def __enter__(self) -> Platform:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def wait_ready(proc: ManagedProcess, base_url: str, timeout: float) -> None:
    """Until ``/ready`` answers 200; raises ProcessError with the log tail otherwise."""

    def ready() -> bool:
        try:
            return httpx.get(f"{base_url}/ready", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    proc.wait_until(ready, timeout, interval=0.25)
