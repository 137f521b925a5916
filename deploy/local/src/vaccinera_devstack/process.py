"""Managed subprocesses: own process group, output to a log file, readiness polling, clean stop."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1


class ProcessError(RuntimeError):
    """A managed process died or never became ready; the message carries its log tail."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS considers free right now (another process may still grab it later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require_free_port(port: int, what: str) -> None:
    """Fail early: readiness probes would otherwise succeed against whatever already listens."""
    if port_open(port):
        raise ProcessError(f"{what}: port {port} on 127.0.0.1 is already in use")


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return "(no log file)"
    return "\n".join(text.splitlines()[-lines:])


def _die_with_parent() -> None:
    # Runs in the child before exec: if the test runner is killed, the kernel sends SIGTERM
    # here, so no orphaned JVM keeps holding ports. Linux-only, best effort elsewhere.
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ManagedProcess:
    """One long-running child process.

    Started in its own session so stop() can signal the whole group (JVM helpers, uvicorn
    workers) and so a Ctrl-C in the developer's terminal reaches only the parent, which then
    stops children in order. The child also gets SIGTERM if the thread that started it dies.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_file: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_file = log_file
        self._env = dict(env) if env is not None else None
        self._cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running:
            return
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env,
                cwd=self._cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # only a prctl call, safe between fork and exec
            )

    def check_alive(self) -> None:
        """Raise ProcessError (with the log tail) if the process has exited."""
        if self._proc is None:
            raise ProcessError(f"{self.name} was never started")
        code = self._proc.poll()
        if code is not None:
            raise ProcessError(
                f"{self.name} exited with code {code}; log {self.log_file}:\n"
                f"{log_tail(self.log_file)}"
            )

    def wait_until(self, ready: Callable[[], bool], timeout: float, interval: float = 0.1) -> None:
        """Poll `ready` until it returns True; fail fast if the process dies meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            if ready():
                return
            if time.monotonic() >= deadline:
                raise ProcessError(
                    f"{self.name} not ready after {timeout:.0f}s; log {self.log_file}:\n"
                    f"{log_tail(self.log_file)}"
                )
            time.sleep(interval)

    def wait_for_port(self, port: int, timeout: float, host: str = "127.0.0.1") -> None:
        self.wait_until(lambda: port_open(port, host), timeout)

    def stop(self, timeout: float = 15.0, *, leader_signal: signal.Signals | None = None) -> None:
        """SIGTERM the process group, wait up to `timeout`, then SIGKILL it.

        With `leader_signal`, only the leader gets that signal first: for servers such as
        PostgreSQL that shut their own children down in order and read SIGTERM differently.
        """
        proc = self._proc
        if proc is not None:
            if proc.poll() is None:
                if leader_signal is None:
                    self._signal_group(proc.pid, signal.SIGTERM)
                else:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(proc.pid, leader_signal)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._signal_group(proc.pid, signal.SIGKILL)
                    proc.wait(5)
            # The leader may exit before its group; make sure nothing of it lingers.
            self._signal_group(proc.pid, signal.SIGKILL)

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
