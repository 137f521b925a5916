"""The identity provider as a separate process, like the stand-ins."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from vaccinera_devstack.process import ManagedProcess, ProcessError, require_free_port

NAME = "dev-idp"


class IdentityProviderServer:
    def __init__(self, port: int, keys_dir: Path, log_file: Path) -> None:
        self.port = port
        self.keys_dir = keys_dir
        self.log_file = log_file
        self._process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks.json"

    @property
    def process(self) -> ManagedProcess | None:
        return self._process

    def start(self) -> None:
        require_free_port(self.port, NAME)
        argv = [sys.executable, "-m", "vaccinera_devstack.idp"]
        argv += ["--port", str(self.port), "--keys-dir", str(self.keys_dir)]
        self._process = ManagedProcess(NAME, argv, self.log_file)
        self._process.start()

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = 30.0) -> None:
        if self._process is None:
            raise ProcessError(f"{NAME} was never started")
        self._process.wait_until(self.healthy, timeout)

    def stop(self, timeout: float = 5.0) -> None:
        if self._process is not None:
            self._process.stop(timeout)
