"""The whole local infrastructure: Kafka, PostgreSQL and the three stand-ins, started together."""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Protocol

from vaccinera_devstack._aio import run_coroutine
from vaccinera_devstack._log import step
from vaccinera_devstack.kafka import KafkaServer, ensure_kafka, ensure_topics
from vaccinera_devstack.postgres import PostgresServer, ensure_postgres
from vaccinera_devstack.standins import KINDS, StandIn, StandInServer


@dataclass(frozen=True)
class Ports:
    kafka: int
    kafka_controller: int
    postgres: int
    sms: int
    nvr: int
    npo: int

    @classmethod
    def local(cls) -> Ports:
        """Fixed ports of the developer stack (chosen to avoid the usual 9092/5432/8080)."""
        return cls(
            kafka=19092, kafka_controller=19093, postgres=15432, sms=18081, nvr=18082, npo=18083
        )

    @classmethod
    def free(cls) -> Ports:
        """Distinct free ports for a test run, so it never collides with a running stack."""
        with ExitStack() as stack:
            # Hold every socket until all are picked, so no port is handed out twice.
            socks = [stack.enter_context(socket.socket()) for _ in fields(cls)]
            for sock in socks:
                sock.bind(("127.0.0.1", 0))
            ports = [int(sock.getsockname()[1]) for sock in socks]
        return cls(*ports)


class _Server(Protocol):
    def start(self) -> None: ...
    def wait_ready(self, timeout: float) -> None: ...
    def stop(self) -> None: ...


class Infrastructure:
    """Starts everything under base_dir (data/ and logs/); stops in reverse order.

    Usable as a context manager. Start-up launches every process first and only then waits,
    so the JVM, PostgreSQL and the stand-ins boot concurrently. ``durable=False`` runs
    PostgreSQL without fsync: for test sessions, whose data is thrown away.
    """

    def __init__(
        self,
        base_dir: Path,
        ports: Ports,
        topics: Sequence[str] = (),
        *,
        partitions: int = 3,
        durable: bool = True,
    ) -> None:
        self.base_dir = base_dir
        self.ports = ports
        self.topics = list(topics)
        self.partitions = partitions
        data, logs = base_dir / "data", base_dir / "logs"
        self.kafka = KafkaServer(
            ports.kafka, ports.kafka_controller, data / "kafka", logs / "kafka.log"
        )
        self.postgres = PostgresServer(
            ports.postgres, data / "postgres", logs / "postgres.log", durable=durable
        )
        self.standins: dict[str, StandInServer] = {
            kind: StandInServer(
                kind,
                getattr(ports, kind),
                logs / f"standin-{kind}.log",
                record_file=data / "standins" / f"{kind}.jsonl",
            )
            for kind in KINDS
        }
        self._started: list[_Server] = []

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka.bootstrap

    @property
    def admin_url(self) -> str:
        """PostgreSQL's superuser: for tests and tools, never for services."""
        return self.postgres.admin_url

    def database_url(self, service: str) -> str:
        """The service's own database and login role, created on first use."""
        return self.postgres.database_url(service)

    def standin_url(self, kind: str) -> str:
        return self.standins[kind].url

    def standin(self, kind: str) -> StandIn:
        """A new client for one stand-in (close it, or use it as a context manager)."""
        return self.standins[kind].client()

    def start(self, timeout: float = 120.0) -> None:
        began = time.monotonic()
        try:
            # First run only: fetch jars and install PostgreSQL side by side.
            with ThreadPoolExecutor(2) as pool:
                for future in [pool.submit(ensure_kafka), pool.submit(ensure_postgres)]:
                    future.result()
            # Launch from this thread: children die with the thread that started them.
            # Kafka before PostgreSQL, so the JVM boots while a first start runs initdb.
            servers: list[_Server] = [*self.standins.values(), self.kafka, self.postgres]
            for server in servers:
                server.start()
                self._started.append(server)
            with ThreadPoolExecutor(len(servers)) as pool:
                waits = [pool.submit(server.wait_ready, timeout) for server in servers]
                for wait in waits:
                    wait.result()
            if self.topics:
                run_coroutine(ensure_topics(self.kafka_bootstrap, self.topics, self.partitions))
        except BaseException:
            self.stop()
            raise
        step(
            "devstack", f"infrastructure ready in {time.monotonic() - began:.1f}s ({self.base_dir})"
        )

    def stop(self) -> None:
        while self._started:
            self._started.pop().stop()

    def __enter__(self) -> Infrastructure:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
