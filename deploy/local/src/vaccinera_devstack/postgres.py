"""PostgreSQL 15 from Debian's packages, with one database and one login role per service."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from vaccinera_devstack._aio import run_coroutine
from vaccinera_devstack._log import step
from vaccinera_devstack.paths import cache_lock
from vaccinera_devstack.process import ManagedProcess, ProcessError, log_tail, require_free_port

PG_MAJOR = 15
BIN_DIR = Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")
_EXTENSION_DIR = Path(f"/usr/share/postgresql/{PG_MAJOR}/extension")
_TOOLS = ("initdb", "postgres", "pg_ctl", "pg_isready")
_PACKAGES = (f"postgresql-{PG_MAJOR}", "postgresql-contrib")

ADMIN_ROLE = "vaccinera_admin"
# Fixed on purpose: the server listens on loopback only and holds development data.
ADMIN_PASSWORD = "vaccinera-admin"
DATABASE_PREFIX = "vaccinera_"
_SERVICE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
_MAX_IDENTIFIER = 63

# PostgreSQL refuses to run as root; then it runs as the user Debian's package creates.
_SERVER_USERS = ("postgres", "nobody")
# ...which cannot enter pytest's 0700 tmp dirs. A cluster asked for in such a place lives here
# instead, with a symlink at the requested path; see _place_data_dir.
_SCRATCH = Path(tempfile.gettempdir()) / "vaccinera-pg"
_ORIGIN_FILE = "origin"
# Key of the advisory lock that serialises creating roles and databases (any constant works).
_PROVISION_LOCK = 0x76_6163_6369_6E65


def ensure_postgres() -> Path:
    """Return the bin dir of Debian's PostgreSQL 15, installing the package first if root."""
    if not _installed():
        if os.geteuid() != 0:
            raise RuntimeError(
                f"postgres: PostgreSQL {PG_MAJOR} is not installed ({BIN_DIR} is missing); "
                f"install it with `sudo apt-get install {' '.join(_PACKAGES)}`"
            )
        with cache_lock("postgres-install"):
            if not _installed():
                _apt_install()
    if not (_EXTENSION_DIR / "btree_gist.control").exists():
        raise RuntimeError(
            f"postgres: the btree_gist extension is missing from {_EXTENSION_DIR}; "
            f"install {' '.join(_PACKAGES)}"
        )
    return BIN_DIR


def _installed() -> bool:
    return all((BIN_DIR / tool).exists() for tool in _TOOLS)


def _apt_install() -> None:
    step("postgres", f"installing {' '.join(_PACKAGES)} with apt-get (first run only)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", *_PACKAGES],
    ):
        result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"postgres: `{' '.join(argv)}` failed:\n{result.stdout[-4000:]}{result.stderr}"
            )
    if not _installed():
        raise RuntimeError(f"postgres: apt-get succeeded but {BIN_DIR} is still incomplete")


@functools.cache
def _server_account() -> pwd.struct_passwd | None:
    """The unprivileged account the server runs as when we are root; None otherwise."""
    if os.geteuid() != 0:
        return None
    for name in _SERVER_USERS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError(f"postgres: running as root but none of the users {_SERVER_USERS} exist")


def _command(argv: list[str], account: pwd.struct_passwd | None, *, pdeathsig: bool) -> list[str]:
    """argv, run as `account` if given.

    Changing the user clears the parent-death signal ManagedProcess set, so setpriv sets it
    again; SIGINT (fast shutdown) rather than SIGTERM, which waits for every client to leave.
    """
    setpriv = shutil.which("setpriv")
    death = ["--pdeathsig=SIGINT"] if pdeathsig else []
    if account is None:
        return [setpriv, *death, "--", *argv] if setpriv and death else argv
    if setpriv is None:
        raise RuntimeError("postgres: setpriv (util-linux) is needed to run PostgreSQL as root")
    return [
        setpriv,
        f"--reuid={account.pw_uid}",
        f"--regid={account.pw_gid}",
        "--init-groups",
        *death,
        "--",
        *argv,
    ]


def _give(path: Path, account: pwd.struct_passwd | None) -> None:
    if account is not None:
        os.chown(path, account.pw_uid, account.pw_gid)


def _reachable(directory: Path, account: pwd.struct_passwd) -> bool:
    """Can `account` enter `directory`? Asked of the kernel, so ACLs and groups count too."""
    argv = _command(["test", "-x", str(directory)], account, pdeathsig=False)
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


def _place_data_dir(requested: Path, account: pwd.struct_passwd | None) -> Path:
    """The directory the cluster really lives in, reachable by the account that runs it.

    Not root: the requested one. Root: the requested one too when the server's account can
    reach its parent (the repository's .run/local/data); otherwise a directory under
    /tmp/vaccinera-pg named after the requested path, with a symlink at the requested path
    so a restart finds the same cluster. Clusters whose symlink is gone are removed then.
    """
    requested.parent.mkdir(parents=True, exist_ok=True)
    if account is None:
        return requested
    with cache_lock("postgres-scratch"):
        _collect_scratch()
        if requested.is_symlink():
            real = Path(os.readlink(requested))
            if real.parent.parent == _SCRATCH:
                # Recreated after a reboot emptied /tmp: a fresh cluster, like a wiped dir.
                _make_scratch_instance(real.parent, requested)
            return real
        if _reachable(requested.parent, account):
            return requested
        if requested.exists() and any(requested.iterdir()):
            raise RuntimeError(
                f"postgres: the {account.pw_name} user cannot reach {requested}; "
                "move the data elsewhere or make its parent directories traversable"
            )
        with contextlib.suppress(FileNotFoundError):
            requested.rmdir()
        key = hashlib.sha256(str(requested).encode()).hexdigest()[:16]
        instance = _SCRATCH / key
        _make_scratch_instance(instance, requested)
        requested.symlink_to(instance / "data", target_is_directory=True)
        return instance / "data"


def _make_scratch_instance(instance: Path, origin: Path) -> None:
    _SCRATCH.mkdir(mode=0o711, exist_ok=True)
    info = os.lstat(_SCRATCH)
    # /tmp is world-writable: never use a directory someone else planted there.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
        raise RuntimeError(f"postgres: {_SCRATCH} must be a directory writable by root only")
    os.chmod(_SCRATCH, 0o711)
    instance.mkdir(exist_ok=True)
    os.chmod(instance, 0o711)
    (instance / _ORIGIN_FILE).write_text(str(origin))


def _collect_scratch() -> None:
    """Drop scratch clusters whose symlink is gone (e.g. pytest removed an old tmp dir)."""
    if not _SCRATCH.is_dir():
        return
    for instance in _SCRATCH.iterdir():
        data = instance / "data"
        try:
            origin = Path((instance / _ORIGIN_FILE).read_text())
            if origin.is_symlink() and os.readlink(origin) == str(data):
                continue
        except OSError:
            pass
        if not _postmaster_alive(data):
            shutil.rmtree(instance, ignore_errors=True)


def _postmaster_alive(data: Path) -> bool:
    try:
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
        os.kill(pid, 0)
    except PermissionError:
        return True
    except (OSError, ValueError):
        return False
    return True


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class PostgresServer:
    """One PostgreSQL cluster listening on 127.0.0.1 over TCP only; its files in data_dir.

    ``durable=False`` turns off fsync and friends: for test sessions, whose data is thrown away.
    """

    def __init__(self, port: int, data_dir: Path, log_file: Path, *, durable: bool = True) -> None:
        self.port = port
        self.data_dir = Path(os.path.abspath(data_dir))
        self.log_file = log_file
        self.durable = durable
        self._process: ManagedProcess | None = None
        self._urls: dict[str, str] = {}
        self._urls_lock = threading.Lock()

    @property
    def admin_url(self) -> str:
        return f"postgresql://{ADMIN_ROLE}:{ADMIN_PASSWORD}@127.0.0.1:{self.port}/postgres"

    @property
    def process(self) -> ManagedProcess | None:
        return self._process

    def start(self) -> None:
        require_free_port(self.port, "postgres")
        bin_dir = ensure_postgres()
        account = _server_account()
        data = _place_data_dir(self.data_dir, account)
        if not (data / "PG_VERSION").exists():
            self._initdb(bin_dir, data, account)
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": "",
            "max_connections": "400",
            "shared_buffers": "256MB",
            # A unique violation's DETAIL and the failing statement would echo the values,
            # personal data among them, into the log.
            "log_error_verbosity": "terse",
            "log_min_error_statement": "panic",
        }
        if not self.durable:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        argv = [str(bin_dir / "postgres"), "-D", str(data)]
        for name, value in settings.items():
            argv += ["-c", f"{name}={value}"]
        self._urls.clear()
        self._process = ManagedProcess(
            "postgres", _command(argv, account, pdeathsig=True), self.log_file, cwd=data
        )
        self._process.start()

    def wait_ready(self, timeout: float = 30.0) -> None:
        if self._process is None:
            raise ProcessError("postgres was never started")
        argv = [str(BIN_DIR / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]

        def accepting() -> bool:
            return subprocess.run([*argv, "-t", "1"], check=False).returncode == 0

        self._process.wait_until(accepting, timeout)

    def stop(self, timeout: float = 30.0) -> None:
        # SIGINT is PostgreSQL's fast shutdown: it ends sessions instead of waiting for every
        # pooled client to disconnect, as SIGTERM would.
        if self._process is not None:
            self._process.stop(timeout, leader_signal=signal.SIGINT)

    def database_url(self, service: str) -> str:
        """The URL of the service's own database and role, both created on first use."""
        with self._urls_lock:
            url = self._urls.get(service)
        if url is None:
            url = run_coroutine(ensure_service_database(self.admin_url, service))
            with self._urls_lock:
                self._urls[service] = url
        return url

    def drop_database(self, service: str) -> None:
        """Drop the service's database (ending its sessions) and its role."""
        with self._urls_lock:
            self._urls.pop(service, None)
        run_coroutine(drop_service_database(self.admin_url, service))

    def _initdb(self, bin_dir: Path, data: Path, account: pwd.struct_passwd | None) -> None:
        # Into a sibling, then renamed: a run killed mid-way never leaves half a cluster.
        staging = data.with_name(data.name + ".initdb")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        _give(staging, account)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with (
            tempfile.NamedTemporaryFile("w", prefix="vaccinera-pg-") as pwfile,
            self.log_file.open("ab") as log,
        ):
            pwfile.write(ADMIN_PASSWORD + "\n")
            pwfile.flush()
            _give(Path(pwfile.name), account)
            argv = [
                str(bin_dir / "initdb"),
                "-D",
                str(staging),
                "--encoding=UTF8",
                "--locale=C",
                "--auth=scram-sha-256",
                f"--username={ADMIN_ROLE}",
                f"--pwfile={pwfile.name}",
                "--no-instructions",  # they would name the staging directory
                *([] if self.durable else ["--no-sync"]),
            ]
            result = subprocess.run(
                _command(argv, account, pdeathsig=False),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd="/",  # the server's account may not be allowed into ours
                check=False,
            )
        if result.returncode != 0:
            raise ProcessError(
                f"postgres initdb failed ({result.returncode}); log {self.log_file}:\n"
                f"{log_tail(self.log_file)}"
            )
        try:
            with contextlib.suppress(FileNotFoundError):
                data.rmdir()
        except OSError:
            raise ProcessError(
                f"postgres: {data} is not empty and not a PostgreSQL data directory"
            ) from None
        staging.rename(data)


def role_name(service: str) -> str:
    """The role and the database of a service: vaccinera_<service>, dashes as underscores."""
    name = DATABASE_PREFIX + service.replace("-", "_")
    if not _SERVICE_NAME.fullmatch(service) or len(name) > _MAX_IDENTIFIER:
        raise ValueError(f"postgres: unusable service name {service!r}")
    return name


async def ensure_service_database(admin_url: str, service: str) -> str:
    """Create the service's login role and its database if missing; return the service's URL.

    The database is owned by the role and closed to every other role, so a service reaches
    its own data only. Safe to call concurrently from many threads and processes.
    """
    name = role_name(service)
    password = f"dev-{name}"
    quoted = _quote(name)
    conn = await asyncpg.connect(admin_url)
    try:
        # Session-level: CREATE DATABASE cannot run in a transaction. Closing releases it.
        await conn.execute("SELECT pg_advisory_lock($1)", _PROVISION_LOCK)
        if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name):
            with contextlib.suppress(asyncpg.DuplicateObjectError, asyncpg.UniqueViolationError):
                # The name is checked by role_name, so the literal needs no escaping.
                await conn.execute(f"CREATE ROLE {quoted} LOGIN PASSWORD '{password}'")
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            with contextlib.suppress(asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                await conn.execute(f"CREATE DATABASE {quoted} OWNER {quoted}")
        await conn.execute(f"REVOKE CONNECT ON DATABASE {quoted} FROM PUBLIC")
        await conn.execute(f"GRANT CONNECT ON DATABASE {quoted} TO {quoted}")
        # Every role may connect to these by default; services have no business there.
        await conn.execute("REVOKE CONNECT ON DATABASE postgres, template1 FROM PUBLIC")
    finally:
        await conn.close()
    address = urlsplit(admin_url)
    return f"postgresql://{name}:{password}@{address.hostname}:{address.port}/{name}"


async def drop_service_database(admin_url: str, service: str) -> None:
    quoted = _quote(role_name(service))
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _PROVISION_LOCK)
        await conn.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        await conn.execute(f"DROP ROLE IF EXISTS {quoted}")
    finally:
        await conn.close()


async def dump_databases(
    admin_url: str, prefix: str = DATABASE_PREFIX, only: Iterable[str] | None = None
) -> str:
    """Every row of every table in every database named prefix* (or only those named), one
    ``table: row`` line each.

    For tests that show a value (a phone number, say) is stored nowhere: bytea is decoded as
    UTF-8 so text hidden in it shows too.
    """
    conn = await asyncpg.connect(admin_url)
    try:
        names = [
            row["datname"]
            for row in await conn.fetch(
                "SELECT datname FROM pg_database"
                " WHERE NOT datistemplate AND starts_with(datname, $1) ORDER BY datname",
                prefix,
            )
        ]
    finally:
        await conn.close()
    if only is not None:
        wanted = set(only)
        names = [n for n in names if n in wanted]
    lines: list[str] = []
    for name in names:
        try:
            db = await asyncpg.connect(admin_url, database=name)
        except asyncpg.InvalidCatalogNameError:
            continue  # dropped meanwhile
        try:
            lines += await _dump_database(db, name)
        finally:
            await db.close()
    return "\n".join(lines)


async def _dump_database(db: Any, name: str) -> list[str]:
    tables = await db.fetch(
        "SELECT n.nspname, c.relname FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'm') AND n.nspname <> 'information_schema'"
        " AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1, 2"
    )
    lines: list[str] = []
    for schema, table in tables:
        try:
            rows = await db.fetch(f"SELECT * FROM {_quote(schema)}.{_quote(table)}")
        except (asyncpg.UndefinedTableError, asyncpg.ObjectNotInPrerequisiteStateError):
            continue  # dropped meanwhile, or a materialized view never refreshed
        label = f"{name}.{schema}.{table}"
        lines += [f"{label}: {_readable(dict(row))!r}" for row in rows]
    return lines


def _readable(value: object) -> object:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {key: _readable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_readable(item) for item in value]
    return value
