"""The managed-process helper on its own: failure reporting and group shutdown."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path

import pytest

from vaccinera_devstack.infra import Ports
from vaccinera_devstack.process import ManagedProcess, ProcessError, port_open
from vaccinera_devstack.standins import StandInServer


def test_a_dying_process_is_reported_with_its_log_tail(tmp_path: Path) -> None:
    script = "import sys; print('cannot bind port', flush=True); sys.exit(3)"
    proc = ManagedProcess("doomed", [sys.executable, "-c", script], tmp_path / "doomed.log")
    proc.start()
    with pytest.raises(ProcessError, match=r"(?s)exited with code 3.*cannot bind port"):
        proc.wait_until(lambda: False, timeout=10)
    proc.stop()


def test_a_slow_process_times_out_with_its_log_tail(tmp_path: Path) -> None:
    script = "import time; print('still booting', flush=True); time.sleep(30)"
    proc = ManagedProcess("slow", [sys.executable, "-c", script], tmp_path / "slow.log")
    proc.start()
    try:
        with pytest.raises(ProcessError, match=r"(?s)not ready.*still booting"):
            proc.wait_until(lambda: False, timeout=1.0)
    finally:
        proc.stop()
    assert not proc.running


def test_stop_escalates_to_kill_for_a_process_ignoring_sigterm(tmp_path: Path) -> None:
    script = (
        "import signal, socket, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
        "open(r'%s', 'w').write(str(s.getsockname()[1]))\n"
        "time.sleep(60)\n"
    ) % (tmp_path / "port")
    proc = ManagedProcess("stubborn", [sys.executable, "-c", script], tmp_path / "stubborn.log")
    proc.start()
    proc.wait_until(lambda: (tmp_path / "port").exists(), timeout=10)
    port = int((tmp_path / "port").read_text())
    proc.wait_for_port(port, timeout=10)
    started = time.monotonic()
    proc.stop(timeout=0.5)
    assert time.monotonic() - started < 5
    assert not proc.running
    assert not port_open(port)


def test_free_ports_are_distinct_and_local_ports_fixed() -> None:
    free = Ports.free()
    assert len(set(vars(free).values())) == 6
    assert Ports.local() == Ports(19092, 19093, 15432, 18081, 18082, 18083)


def test_a_server_refuses_a_port_that_is_already_taken(tmp_path: Path) -> None:
    # Otherwise its readiness probe would happily talk to whoever holds the port.
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(ProcessError, match="already in use"):
            StandInServer("sms", port, tmp_path / "sms.log").start()
