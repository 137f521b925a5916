"""FerretDB 1.x (MongoDB wire protocol) on its embedded SQLite backend."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from vaccinera_devstack._log import step
from vaccinera_devstack.paths import cache_dir, cache_lock
from vaccinera_devstack.process import ManagedProcess, ProcessError, require_free_port

FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
FERRETDB_VERSION = "v1.24.2"
# Bump when the patch applied at build time changes, so cached binaries are rebuilt.
PATCH_LEVEL = "atomic-1-idpushdown-1"
_PATCH_SOURCE = Path(__file__).resolve().parents[2] / "ferretdb" / "vaccinera_atomic.go"
# Where the lock goes: (file, the line that opens the function or statement, replacement).
_LOCK_SITES = (
    (
        "internal/handler/msg_update.go",
        "func (h *Handler) updateDocument(ctx context.Context, params *common.UpdateParams) "
        "(int32, int32, *types.Array, error) {\n",
        "\tdefer vaccineraLock(params.DB, params.Collection)()\n",
    ),
    (
        "internal/handler/msg_findandmodify.go",
        "func (h *Handler) findAndModifyDocument(ctx context.Context, "
        "params *common.FindAndModifyParams) (*findAndModifyResult, error) {\n",
        "\tdefer vaccineraLock(params.DB, params.Collection)()\n",
    ),
)
# Let SQLite find a document by primary key whenever the filter names a plain ``_id``, not only
# when ``_id`` is all it names: the handler filters the result again in Go, so this only saves
# scanning the whole collection for updates like {_id, version} (the outbox, optimistic writes).
_ID_PUSHDOWN = (
    "internal/backends/sqlite/collection.go",
    '\tif params.Filter.Len() == 1 {\n\t\tv, _ := params.Filter.Get("_id")\n',
    '\tif params.Filter != nil {\n\t\tv, _ := params.Filter.Get("_id")\n',
)
_DELETE_SITE = (
    "internal/handler/msg_delete.go",
    "\t\td, err = h.execDelete(connCtx, c, &p)\n",
    "\t\tunlock := vaccineraLock(params.DB, params.Collection)\n"
    "\t\td, err = h.execDelete(connCtx, c, &p)\n"
    "\t\tunlock()\n",
)


def ensure_ferretdb() -> Path:
    """Build the ferretdb binary into <cache>/bin once; return its path."""
    binary = cache_dir() / "bin" / "ferretdb"
    marker = binary.with_name(f"ferretdb.{FERRETDB_VERSION}.{PATCH_LEVEL}.ok")
    if marker.exists() and binary.exists():
        return binary
    with cache_lock("ferretdb"):
        _wait_for_foreign_build()
        if marker.exists() and _works(binary):
            return binary
        _build(binary)
        if not _works(binary):
            raise RuntimeError(f"ferretdb: built {binary} but `--version` fails")
        marker.write_text(FERRETDB_VERSION + "\n")
    return binary


def _works(binary: Path) -> bool:
    # A plain `go install ...@version` binary panics at start-up (build/version/version.txt
    # is empty in the module zip), so existence alone proves nothing.
    if not binary.exists():
        return False
    result = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False
    )
    return result.returncode == 0 and f"version: {FERRETDB_VERSION}" in result.stdout


def _wait_for_foreign_build(timeout: float = 900.0) -> None:
    """Don't race a `go install` of FerretDB started outside this module."""
    deadline = time.monotonic() + timeout
    announced = False
    while time.monotonic() < deadline:
        found = subprocess.run(
            ["pgrep", "-f", f"go install {FERRETDB_MODULE}"],
            capture_output=True,
            check=False,
        )
        if found.returncode != 0:
            return
        if not announced:
            step("ferretdb", "waiting for a running `go install` of FerretDB")
            announced = True
        time.sleep(2)
    raise RuntimeError("ferretdb: another FerretDB build is still running")


def _build(binary: Path) -> None:
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("ferretdb: Go is required to build FerretDB")
    step("ferretdb", f"building {FERRETDB_VERSION} with go (first run only, ~1-3 min)")
    env = {**os.environ, "GOFLAGS": "-buildvcs=false"}
    download = subprocess.run(
        [go, "mod", "download", "-json", f"{FERRETDB_MODULE}@{FERRETDB_VERSION}"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if download.returncode != 0:
        raise RuntimeError(f"ferretdb: go mod download failed:\n{download.stdout}{download.stderr}")
    module_dir = Path(json.loads(download.stdout)["Dir"])
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ferretdb-src-", dir=cache_dir()) as scratch:
        # The module cache is read-only and lacks version.txt, which the binary requires;
        # build from a writable copy that has it (what upstream's `task gen-version` does).
        source = Path(scratch) / "src"
        shutil.copytree(module_dir, source)
        for path in source.rglob("*"):
            path.chmod(path.stat().st_mode | 0o200)
        source.chmod(source.stat().st_mode | 0o200)
        (source / "build" / "version" / "version.txt").write_text(FERRETDB_VERSION + "\n")
        _make_single_document_writes_atomic(source)
        output = Path(scratch) / "ferretdb"
        build = subprocess.run(
            [go, "build", "-o", str(output), "./cmd/ferretdb"],
            cwd=source,
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if build.returncode != 0:
            raise RuntimeError(f"ferretdb: go build failed:\n{build.stdout}{build.stderr}")
        output.replace(binary)


def _make_single_document_writes_atomic(source: Path) -> None:
    """Apply Vaccinera's patch (see ferretdb/vaccinera_atomic.go); fail loudly if the upstream
    code no longer looks as expected rather than build an unpatched server."""
    shutil.copy(_PATCH_SOURCE, source / "internal" / "handler" / _PATCH_SOURCE.name)
    for relative, anchor, insertion in _LOCK_SITES:
        path = source / relative
        text = path.read_text()
        if text.count(anchor) != 1:
            raise RuntimeError(f"ferretdb: cannot patch {relative}: anchor not found once")
        path.write_text(text.replace(anchor, anchor + insertion))
    relative, anchor, replacement = _DELETE_SITE
    path = source / relative
    text = path.read_text()
    if text.count(anchor) != 1:
        raise RuntimeError(f"ferretdb: cannot patch {relative}: anchor not found once")
    path.write_text(text.replace(anchor, replacement))
    relative, anchor, replacement = _ID_PUSHDOWN
    path = source / relative
    text = path.read_text()
    if text.count(anchor) != 2:  # Query and Explain
        raise RuntimeError(f"ferretdb: cannot patch {relative}: _id pushdown anchor changed")
    path.write_text(text.replace(anchor, replacement))


def mongo_ping(url: str, timeout: float = 1.0) -> bool:
    millis = int(timeout * 1000)
    client: MongoClient[dict[str, object]] = MongoClient(
        url,
        serverSelectionTimeoutMS=millis,
        connectTimeoutMS=millis,
        socketTimeoutMS=millis,
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


class FerretDBServer:
    """One FerretDB process; its SQLite files (one per database) live in data_dir."""

    def __init__(self, port: int, data_dir: Path, log_file: Path) -> None:
        self.port = port
        self.data_dir = data_dir
        self.log_file = log_file
        self._process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    @property
    def process(self) -> ManagedProcess | None:
        return self._process

    def start(self) -> None:
        require_free_port(self.port, "ferretdb")
        binary = ensure_ferretdb()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(binary),
            "--handler=sqlite",
            f"--sqlite-url=file:{self.data_dir}/",
            f"--listen-addr=127.0.0.1:{self.port}",
            # "-" disables the metrics/pprof HTTP listener, which otherwise binds a fixed
            # port (8088) and makes a second instance fail.
            "--debug-addr=-",
            # state.json (instance UUID) would otherwise land in the current directory.
            f"--state-dir={self.data_dir}",
            "--telemetry=disable",
            "--log-level=warn",
        ]
        self._process = ManagedProcess("ferretdb", argv, self.log_file, cwd=self.data_dir)
        self._process.start()

    def wait_ready(self, timeout: float = 30.0) -> None:
        if self._process is None:
            raise ProcessError("ferretdb was never started")
        self._process.wait_until(lambda: mongo_ping(self.url, timeout=0.5), timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self._process is not None:
            self._process.stop(timeout)
