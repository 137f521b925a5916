"""A stand-in as a separate process, so it runs like the real external system would."""

from __future__ import annotations

import sys
from pathlib import Path

from vaccinera_devstack.process import ManagedProcess, ProcessError, require_free_port
from vaccinera_devstack.standins.app import KINDS
from vaccinera_devstack.standins.client import StandIn


class StandInServer:
    def __init__(
        self, kind: str, port: int, log_file: Path, *, record_file: Path | None = None
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown stand-in kind {kind!r}; expected one of {KINDS}")
        self.kind = kind
        self.port = port
        self.log_file = log_file
        self.record_file = record_file
        self._process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def process(self) -> ManagedProcess | None:
        return self._process

    def client(self) -> StandIn:
        return StandIn(self.url)

    def start(self) -> None:
        require_free_port(self.port, f"standin-{self.kind}")
        argv = [sys.executable, "-m", "vaccinera_devstack.standins", self.kind]
        argv += ["--port", str(self.port)]
        if self.record_file is not None:
            self.record_file.parent.mkdir(parents=True, exist_ok=True)
            argv += ["--record-file", str(self.record_file)]
        self._process = ManagedProcess(f"standin-{self.kind}", argv, self.log_file)
        self._process.start()

    def wait_ready(self, timeout: float = 30.0) -> None:
        if self._process is None:
            raise ProcessError(f"standin-{self.kind} was never started")
        with StandIn(self.url) as probe:
            self._process.wait_until(probe.healthy, timeout)

    def stop(self, timeout: float = 5.0) -> None:
        if self._process is not None:
            self._process.stop(timeout)
