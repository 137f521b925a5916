"""Single-node Apache Kafka (KRaft, combined broker+controller) from Maven Central jars."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from vaccinera_devstack._log import step
from vaccinera_devstack.paths import cache_dir, cache_lock, devstack_dir
from vaccinera_devstack.process import ManagedProcess, ProcessError, log_tail, require_free_port

# Keep in step with the default in deploy/local/kafka/pom.xml (passed explicitly anyway).
KAFKA_VERSION = "4.4.0"
# Fixed so a formatted data dir always matches its config; base64 of b"vaccinera-devsta".
CLUSTER_ID = "dmFjY2luZXJhLWRldnN0YQ"
NODE_ID = 1

_COMPLETE_MARKER = ".complete"
_TOPIC_ALREADY_EXISTS = 36

# Startup dominates test time on a 2-core box: serial GC and a small heap start quickest
# and leave CPU for the services under test.
_JVM_FLAGS = (
    "-Xms64m",
    "-XX:+UseSerialGC",
    "-XX:+ExitOnOutOfMemoryError",
    "-Xshare:auto",
    "-Djava.awt.headless=true",
    "-Djava.net.preferIPv4Stack=true",
)

_LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
# Full config dumps on every client/broker start drown the useful lines.
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
"""


def ensure_kafka(version: str = KAFKA_VERSION) -> Path:
    """Resolve the broker jars into the cache once; return the directory holding them."""
    home = cache_dir() / f"kafka-{version}"
    libs = home / "libs"
    if (home / _COMPLETE_MARKER).exists():
        return libs
    with cache_lock(f"kafka-{version}"):
        if (home / _COMPLETE_MARKER).exists():
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise RuntimeError("kafka: Maven (mvn) is required to fetch the broker jars")
        step("kafka", f"resolving {version} jars with maven (first run only)")
        home.mkdir(parents=True, exist_ok=True)
        # Resolve into a scratch dir and rename, so a killed run never leaves half a classpath.
        staging = Path(tempfile.mkdtemp(prefix="libs-", dir=home))
        result = subprocess.run(
            [
                mvn,
                "-B",
                "-q",
                "-f",
                str(devstack_dir() / "kafka" / "pom.xml"),
                f"-Dkafka.version={version}",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={staging}",
                "dependency:copy-dependencies",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise RuntimeError(f"kafka: maven failed:\n{result.stdout[-4000:]}{result.stderr}")
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
        (home / _COMPLETE_MARKER).write_text(version + "\n")
    return libs


def java_executable() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("kafka: no java on PATH (JDK 17+ needed)")
    return java


def _class_archive(libs: Path, java: str) -> Path:
    # A dynamic CDS archive cuts ~0.8 s of class loading per start. It is only valid for
    # the JDK that wrote it, so the name follows the java binary.
    real = Path(java).resolve()
    key = hashlib.sha256(f"{real}:{real.stat().st_mtime_ns}".encode()).hexdigest()[:12]
    return libs.parent / f"kafka-{key}.jsa"


def metadata_ready(host: str, port: int, timeout: float = 1.0) -> bool:
    """True once the broker answers a Metadata request listing at least one live broker.

    Hand-rolled (Metadata v4, no topics) so readiness can be polled synchronously from any
    thread, even inside a running event loop, without an aiokafka client per attempt.
    """
    client_id = b"devstack-probe"
    request = struct.pack(">hhih", 3, 4, 1, len(client_id)) + client_id + struct.pack(">ib", 0, 0)
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(struct.pack(">i", len(request)) + request)
            size = struct.unpack(">i", _recv_exact(sock, 4))[0]
            body = _recv_exact(sock, size)
    except (OSError, struct.error):
        return False
    # Response: correlation_id, throttle_time_ms, brokers[] count.
    correlation_id, _throttle, broker_count = struct.unpack(">iii", body[:12])
    return bool(correlation_id == 1 and broker_count >= 1)


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise OSError("connection closed")
        chunks += chunk
    return bytes(chunks)


class KafkaServer:
    """One KRaft node listening on 127.0.0.1 only; data and generated config in data_dir."""

    def __init__(
        self,
        port: int,
        controller_port: int,
        data_dir: Path,
        log_file: Path,
        *,
        version: str = KAFKA_VERSION,
        max_heap: str = "512m",
    ) -> None:
        self.port = port
        self.controller_port = controller_port
        self.data_dir = data_dir
        self.log_file = log_file
        self.version = version
        self.max_heap = max_heap
        self._process: ManagedProcess | None = None
        self._pending_archive: tuple[Path, Path] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def process(self) -> ManagedProcess | None:
        return self._process

    @property
    def _log_dirs(self) -> Path:
        # Kafka treats every sub-directory of log.dirs as a partition, so config lives beside it.
        return self.data_dir / "kraft"

    @property
    def _config_dir(self) -> Path:
        return self.data_dir / "config"

    def start(self) -> None:
        require_free_port(self.port, "kafka")
        require_free_port(self.controller_port, "kafka controller")
        libs = ensure_kafka(self.version)
        self._write_config()
        java = java_executable()
        common = [
            *_JVM_FLAGS,
            f"-Dlog4j2.configurationFile={self._config_dir / 'log4j2.properties'}",
            "-cp",
            f"{libs}/*",
        ]
        properties = str(self._config_dir / "server.properties")
        if not (self._log_dirs / "meta.properties").exists():
            # The format tool lives for a second: C1-only JIT starts it faster.
            self._format([java, "-XX:TieredStopAtLevel=1", *common], properties)
        archive = _class_archive(libs, java)
        if archive.exists():
            cds = f"-XX:SharedArchiveFile={archive}"
            self._pending_archive = None
        else:
            # Written by the JVM at a clean exit; renamed into place by stop().
            scratch = archive.with_name(f"{archive.name}.{os.getpid()}.tmp")
            self._pending_archive = (scratch, archive)
            cds = f"-XX:ArchiveClassesAtExit={scratch}"
        argv = [java, f"-Xmx{self.max_heap}", cds, *common, "kafka.Kafka", properties]
        self._process = ManagedProcess("kafka", argv, self.log_file, cwd=self.data_dir)
        self._process.start()

    def wait_ready(self, timeout: float = 60.0) -> None:
        if self._process is None:
            raise ProcessError("kafka was never started")
        self._process.wait_until(
            lambda: metadata_ready("127.0.0.1", self.port), timeout, interval=0.1
        )

    def stop(self, timeout: float = 20.0) -> None:
        # Controlled shutdown takes ~2 s; SIGKILL only if it hangs.
        if self._process is not None:
            self._process.stop(timeout)
        pending, self._pending_archive = self._pending_archive, None
        if pending is not None and pending[0].exists():
            pending[0].replace(pending[1])

    def _format(self, java: list[str], properties: str) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            result = subprocess.run(
                [
                    *java,
                    "kafka.tools.StorageTool",
                    "format",
                    "--cluster-id",
                    CLUSTER_ID,
                    "--config",
                    properties,
                    "--ignore-formatted",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if result.returncode != 0:
            raise ProcessError(
                f"kafka storage format failed ({result.returncode}); log {self.log_file}:\n"
                f"{log_tail(self.log_file)}"
            )

    def _write_config(self) -> None:
        self._config_dir.mkdir(parents=True, exist_ok=True)
        self._log_dirs.mkdir(parents=True, exist_ok=True)
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(NODE_ID),
            # Static voter set: a fresh format needs no --standalone and ports may change.
            "controller.quorum.voters": f"{NODE_ID}@127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self._log_dirs),
            # Services must declare their topics; a typo must fail, not create a new topic.
            "auto.create.topics.enable": "false",
            "num.partitions": "3",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            # Fewer internal partitions: the first consumer group joins faster.
            "offsets.topic.num.partitions": "5",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "5",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Tests start a consumer and expect an assignment at once.
            "group.initial.rebalance.delay.ms": "0",
            "log.retention.hours": "24",
            "log.segment.bytes": str(64 * 1024 * 1024),
            "num.network.threads": "2",
            "num.io.threads": "2",
            "num.recovery.threads.per.data.dir": "1",
        }
        text = "".join(f"{key}={value}\n" for key, value in settings.items())
        (self._config_dir / "server.properties").write_text(text)
        (self._config_dir / "log4j2.properties").write_text(_LOG4J2)


async def ensure_topics(bootstrap: str, names: list[str], partitions: int = 3) -> None:
    """Create the missing topics (replication 1); existing ones are left untouched."""
    if not names:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="vaccinera-devstack")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in dict.fromkeys(names) if name not in existing]
        if missing:
            response = await admin.create_topics(
                [NewTopic(name, partitions, 1) for name in missing]
            )
            failures = [
                f"{topic}: {message or code}"
                for topic, code, message in response.topic_errors
                if code not in (0, _TOPIC_ALREADY_EXISTS)
            ]
            if failures:
                raise RuntimeError("kafka: topic creation failed: " + "; ".join(failures))
        await _wait_for_leaders(admin, names)
    finally:
        await admin.close()


async def _wait_for_leaders(admin: Any, names: list[str]) -> None:
    # Creation is acknowledged by the controller before the broker's metadata has every
    # partition leader; a producer starting in that gap gets spurious errors.
    try:
        async with asyncio.timeout(10):
            while True:
                described = await admin.describe_topics(names)
                if all(
                    topic["error_code"] == 0
                    and topic["partitions"]
                    and all(part["leader"] >= 0 for part in topic["partitions"])
                    for topic in described
                ):
                    return
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise RuntimeError(f"kafka: topics {names} have no partition leaders yet") from None
