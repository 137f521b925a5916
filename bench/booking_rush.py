"""Benchmark (not a test): the booking rush of issue 7 on PostgreSQL, measured in one run.

    ./vaccinera bench [--levels 50,200,500] [--bookings 2000] [--burst 2000] [--patients 3000]

It starts its own platform (durable PostgreSQL, real Kafka, every service, the gateway, the
stand-ins and the identity provider) on free ports in a temporary directory, so it never touches
a running local stack, and reports:

- patients registered per second through the gateway (``POST /api/identity/patients``) and,
  separately, contact details set per second (``PUT .../contact``), at ``--register-concurrency``;
- per concurrency level: the HTTP ceiling (``GET /api/booking/whoami``, an authenticated no-op,
  through the gateway) and bookings per second through the gateway (staff booking with an
  ``Idempotency-Key``), with p50/p95/p99 and status counts; during the largest level,
  ``--searchers`` clients search free times of one day in a loop;
- booking -> SMS accepted by the SMS stand-in, p50/p99, over a burst of ``--burst`` bookings
  made once everything earlier has been texted;
- the raw database rate of the booking transaction: booking's own store code (visit type lock,
  candidate slots, insert under the partial unique index, outbox rows of ``BookingCreated`` and
  the access record) in a kit unit of work, at the largest concurrency, no HTTP, no Kafka;
- double bookings in booking's database, resident memory of the whole stack (RSS and PSS of
  every process tree: services, gateway, Kafka, PostgreSQL's postmaster and backends, stand-ins,
  identity provider), and CPU seconds per process (PostgreSQL per database) in every phase,
  also per successful request: what each hop costs, whatever else shares the two cores. The
  machine's busy and idle CPU seconds in each phase show how much went to other work.

The requests go through a lean keep-alive HTTP/1.1 client (below), because the client runs on
the same two cores as the stack it measures. The free-time searches and the SMS records are
read without loading what they measure beyond what a real client would.

Each level books fresh start times, and spreads its clients over at least as many start times
as there are clients in flight (at most 10 per time, the columns), so the figure is throughput,
not contention. The raw rate's unit of work writes real outbox rows (the booking service's relay
publishes them, notifications texts them): its bookings are for registered patients, so every
consumer is content, and they are on a time book of their own.

Ends with ONE JSON line holding every figure, so runs can be compared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform as machine
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import asyncpg

from vaccinera_booking import domain
from vaccinera_booking.store import Bookings, Patients, Slots, TimeBooks
from vaccinera_contracts.access import Ops
from vaccinera_contracts.roles import Assignment, Principal, Role
from vaccinera_devstack import tokens
from vaccinera_devstack.platform import Platform, PlatformPorts
from vaccinera_identity.population import SyntheticRegister
from vaccinera_kit.access_log import AccessLog
from vaccinera_kit.database import Database, plain_url
from vaccinera_kit.outbox import Outbox
from vaccinera_kit.sealed import Sealer
from vaccinera_kit.unit_of_work import UnitOfWorkFactory

TZ = ZoneInfo("Europe/Stockholm")
UNIT = "unit-centrum"
UNIT_NAME = "Vaccinationsmottagningen Linköping"
COLUMNS = 10
SLOT_MINUTES = 5
DAY_START, DAY_END = 8, 20  # 144 start times a day
TIMES_PER_DAY = (DAY_END - DAY_START) * 60 // SLOT_MINUTES
DAYS_PER_OPENING = 13  # 13 x 144 x 10 slots stay under the 20,000 slots of one opening
FIRST_DAY_AHEAD = 60
TOKEN_TTL = 8 * 3600
REFERENCE = re.compile(r"VB-[A-Z0-9]{6}")
ROOT = Path(__file__).resolve().parent.parent
BENCH_HSA = "SE2321000000-bench"


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pct(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


# --- what the stack uses: CPU and memory per process tree, read from /proc ------------------


@dataclass(frozen=True)
class ProcInfo:
    component: str
    cpu_ticks: int
    rss_kb: int
    pss_kb: int


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, user + system CPU ticks) of a process, None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = raw[raw.rindex(")") + 2 :].split()
    return int(rest[1]), int(rest[11]) + int(rest[12])


def _memory_kb(pid: int) -> tuple[int, int]:
    """(resident, proportional) set size; PSS shares PostgreSQL's shared buffers fairly."""
    rss = pss = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def _postgres_role(pid: int) -> str:
    """``postgres/<database>`` for a backend (its title names user and database), else
    ``postgres/background`` (checkpointer, WAL writer, autovacuum, ...)."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "postgres/background"
    parts = title.split()
    if len(parts) >= 3 and parts[0] == "postgres:" and parts[2].startswith("vaccinera_"):
        return "postgres/" + parts[2].removeprefix("vaccinera_")
    return "postgres/background"


def _postmaster_pid(p: Platform) -> int | None:
    """The postmaster's pid from its pid file (it runs as the ``postgres`` user)."""
    try:
        return int((p.infra.postgres.data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        proc = p.infra.postgres.process
        return proc.pid if proc is not None else None


def stack_roots(p: Platform) -> dict[int, str]:
    """The root process of every part of the platform, by component name."""
    roots: dict[int, str] = {}
    for name, proc in p.processes.items():
        if proc.pid is not None:
            roots[proc.pid] = name
    others = {
        "idp": p.idp.process,
        "kafka": p.infra.kafka.process,
        **{f"standin-{k}": s.process for k, s in p.infra.standins.items()},
    }
    for name, maybe in others.items():
        if maybe is not None and maybe.pid is not None:
            roots[maybe.pid] = name
    postmaster = _postmaster_pid(p)
    if postmaster is not None:
        roots[postmaster] = "postgres"
    return roots


def snapshot(roots: dict[int, str], memory: bool = False) -> dict[int, ProcInfo]:
    """Every process of the platform (roots and their descendants)."""
    table: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (found := _stat(int(entry))) is not None:
            table[int(entry)] = found
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out: dict[int, ProcInfo] = {}
    for root, name in roots.items():
        queue = [root]
        for _ in range(10_000):  # bounded walk of the tree
            if not queue:
                break
            pid = queue.pop()
            if pid not in table:
                continue
            queue.extend(children.get(pid, []))
            component = name
            if name == "postgres":
                component = "postgres/postmaster" if pid == root else _postgres_role(pid)
            rss, pss = _memory_kb(pid) if memory else (0, 0)
            out[pid] = ProcInfo(component, table[pid][1], rss, pss)
    return out


def cpu_between(before: dict[int, ProcInfo], after: dict[int, ProcInfo]) -> dict[str, float]:
    """CPU seconds per component spent between two snapshots (processes that ended meanwhile
    are lost; the platform's processes live for the whole run)."""
    hz = os.sysconf("SC_CLK_TCK")
    spent: dict[str, float] = {}
    for pid, now in after.items():
        then = before.get(pid)
        ticks = now.cpu_ticks - (then.cpu_ticks if then and then.component == now.component else 0)
        spent[now.component] = spent.get(now.component, 0.0) + ticks / hz
    return {k: round(v, 2) for k, v in sorted(spent.items(), key=lambda kv: -kv[1]) if v > 0}


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    hz = os.sysconf("SC_CLK_TCK")
    total = sum(fields)
    return (total - fields[3] - fields[4]) / hz, total / hz


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Memory:
    rss_mb: float = 0.0
    pss_mb: float = 0.0
    by_component_mb: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, procs: dict[int, ProcInfo]) -> Memory:
        parts: dict[str, float] = {}
        for info in procs.values():
            part = info.component.split("/")[0]
            parts[part] = parts.get(part, 0.0) + info.rss_kb / 1024
        return cls(
            round(sum(i.rss_kb for i in procs.values()) / 1024, 1),
            round(sum(i.pss_kb for i in procs.values()) / 1024, 1),
            {k: round(v, 1) for k, v in sorted(parts.items(), key=lambda kv: -kv[1])},
        )


class Meter:
    """Snapshots of the stack around each phase: CPU per component, peak memory."""

    def __init__(self, p: Platform) -> None:
        self.roots = stack_roots(p)
        self.peak = Memory()

    def sample_memory(self) -> Memory:
        memory = Memory.of(snapshot(self.roots, memory=True))
        if memory.pss_mb > self.peak.pss_mb:
            self.peak = memory
        return memory


# --- a lean HTTP client ------------------------------------------------------------------------
#
# The bench shares the two cores with the stack it measures, so its client must be cheap: httpx
# spent 4.6 ms of CPU per request at 50 connections and 18.5 ms at 500 (its pool scans every
# connection per request), a hand-rolled keep-alive HTTP/1.1 client 0.24-0.35 ms. Loopback only.


class HttpError(Exception):
    """The connection failed or the answer could not be read."""


@dataclass(frozen=True)
class Answer:
    status: int
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)

    def outcome(self) -> str:
        """The status, and for a refusal the error body's code (``503 overloaded``)."""
        if self.status < 300:
            return str(self.status)
        try:
            return f"{self.status} {self.json().get('code', '')}".strip()
        except (ValueError, AttributeError):
            return str(self.status)

    def expect(self, *statuses: int) -> Answer:
        if self.status not in statuses:
            raise HttpError(f"expected {statuses}, got {self.status}: {self.content[:300]!r}")
        return self


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = time.monotonic()

    async def exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        """(status, body, keep-alive) of one request."""
        self.writer.write(request)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("closed by the server")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked, keep = 0, False, True
        for _ in range(200):  # header lines
            line = await self.reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and value == b"chunked":
                chunked = True
            elif name == b"connection" and value == b"close":
                keep = False
        if not chunked:
            body = await self.reader.readexactly(length)
        else:
            parts = []
            for _ in range(100_000):  # chunks
                size = int((await self.reader.readline()).split(b";")[0], 16)
                parts.append(await self.reader.readexactly(size + 2))
                if size == 0:
                    break
            body = b"".join(part[:-2] for part in parts)
        self.used = time.monotonic()
        return status, body, keep

    def close(self) -> None:
        self.writer.close()


class Client:
    """Keep-alive connections to one loopback server, reused last-in first-out (O(1) per
    request); a connection idle for longer than the server keeps it (uvicorn: 5 s) is dropped."""

    IDLE_SECONDS = 3.0

    def __init__(self, base_url: str, timeout: float = 120.0) -> None:
        address = urlsplit(base_url)
        if address.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("loopback only")
        self.host, self.port = address.hostname, address.port or 80
        self.timeout = timeout
        self.idle: list[Connection] = []

    async def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> Answer:
        if params:
            path += "?" + urlencode(params)
        content = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n"
        head += f"content-length: {len(content)}\r\n"
        if body is not None:
            head += "content-type: application/json\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = head.encode() + b"\r\n" + content
        try:
            async with asyncio.timeout(self.timeout):
                for attempt in range(2):
                    conn = self._reused()
                    fresh = conn is None
                    if conn is None:
                        conn = Connection(*await asyncio.open_connection(self.host, self.port))
                    try:
                        status, answer, keep = await conn.exchange(request)
                    except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                        conn.close()
                        # A kept connection the server had just closed: nothing was read, so
                        # nothing was done; once more on a new connection.
                        if fresh or attempt or not isinstance(exc, ConnectionResetError):
                            raise HttpError(f"{type(exc).__name__}: {exc}") from exc
                        continue
                    if keep:
                        self.idle.append(conn)
                    else:
                        conn.close()
                    return Answer(status, answer)
        except TimeoutError as exc:
            raise HttpError("timeout") from exc
        raise HttpError("unreachable")

    def _reused(self) -> Connection | None:
        now = time.monotonic()
        for _ in range(len(self.idle)):
            conn = self.idle.pop()
            if now - conn.used < self.IDLE_SECONDS:
                return conn
            conn.close()
        return None

    async def get(
        self, path: str, *, headers: dict[str, str], params: dict[str, str] | None = None
    ) -> Answer:
        return await self.request("GET", path, headers, params=params)

    async def post(self, path: str, *, headers: dict[str, str], json: Any) -> Answer:
        return await self.request("POST", path, headers, json)

    async def put(self, path: str, *, headers: dict[str, str], json: Any) -> Answer:
        return await self.request("PUT", path, headers, json)

    def close(self) -> None:
        for conn in self.idle:
            conn.close()
        self.idle.clear()


# --- driving requests ------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    concurrency: int
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    cpu: dict[str, float] = field(default_factory=dict)
    load: str = ""

    def count(self, *codes: str) -> int:
        return sum(n for code, n in self.statuses.items() if code in codes)

    def per_s(self, *codes: str) -> float:
        """Answers with one of ``codes`` (all answers if none given) per second."""
        n = self.count(*codes) if codes else self.requests
        return n / self.seconds if self.seconds else 0.0

    def successes(self) -> int:
        return sum(n for code, n in self.statuses.items() if code[:1] == "2" or code == "committed")

    def cpu_ms_per_success(self) -> dict[str, float]:
        """CPU milliseconds each part of the stack spent per successful request: what a
        booking costs, hop by hop, whatever else shares the machine."""
        ok = self.successes()
        return {
            k: round(1000 * v / ok, 2)
            for k, v in self.cpu.items()
            if ok and not k.startswith("(") and 1000 * v / ok >= 0.05
        }

    def latency_ms(self) -> dict[str, float]:
        return {f"p{q}": round(pct(self.latencies, q) * 1000, 1) for q in (50, 95, 99)}


Call = Callable[[int], Awaitable[str]]


async def drive(
    meter: Meter, name: str, n: int, concurrency: int, call: Call, *, sample_memory: bool = False
) -> Phase:
    """``n`` calls by ``concurrency`` workers, each taking the next index when it is free."""
    phase = Phase(name, concurrency, n)
    cursor = 0

    async def worker() -> None:
        nonlocal cursor
        while cursor < n:  # every turn takes one of the n indices
            i = cursor
            cursor += 1
            began = time.perf_counter()
            try:
                code = await call(i)
            except HttpError as exc:
                code = str(exc).split(":")[0]
            phase.latencies.append(time.perf_counter() - began)
            phase.statuses[code] += 1

    before, bench_before, machine_before = snapshot(meter.roots), own_cpu(), machine_cpu()
    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, n)))))
    phase.seconds = time.perf_counter() - began
    phase.cpu = cpu_between(before, snapshot(meter.roots))
    phase.cpu["bench-client"] = round(own_cpu() - bench_before, 2)
    # What the machine did meanwhile, and how much of it was not this benchmark (other
    # engineers' tests share the two cores).
    ours = sum(phase.cpu.values())
    busy, total = (b - a for a, b in zip(machine_before, machine_cpu(), strict=True))
    phase.cpu["(machine busy)"] = round(busy, 2)
    phase.cpu["(machine idle)"] = round(total - busy, 2)
    phase.cpu["(not this bench)"] = round(max(0.0, busy - ours), 2)
    phase.load = loadavg()
    if sample_memory:
        meter.sample_memory()
    log(
        f"{name}: {n} in {phase.seconds:.1f}s = {phase.per_s():.0f}/s, "
        f"statuses {dict(phase.statuses)}, p50 {phase.latency_ms()['p50']} ms, "
        f"p99 {phase.latency_ms()['p99']} ms, load {phase.load.split()[0]}"
    )
    return phase


# --- the platform's data ---------------------------------------------------------------------


@dataclass
class TimeBook:
    time_book_id: str
    visit_type_id: str
    visit_type_name: str
    first: date
    days: int
    next_time: int = 0

    def times(self) -> list[datetime]:
        return [
            datetime(d.year, d.month, d.day, DAY_START, tzinfo=TZ) + timedelta(minutes=m)
            for d in (self.first + timedelta(days=k) for k in range(self.days))
            for m in range(0, (DAY_END - DAY_START) * 60, SLOT_MINUTES)
        ]

    def plan(self, bookings: int, concurrency: int) -> list[datetime]:
        """Start times for ``bookings`` clients: fresh times, at least one per client in
        flight, at most COLUMNS clients each, handed out round robin."""
        count = max(math.ceil(bookings / COLUMNS), min(bookings, concurrency))
        times = self.times()[self.next_time : self.next_time + count]
        if len(times) < count:
            raise RuntimeError("the time book ran out of open times: open more days")
        self.next_time += count
        return [times[i % count] for i in range(bookings)]


def times_needed(bookings: int, concurrency: int) -> int:
    return max(math.ceil(bookings / COLUMNS), min(bookings, concurrency))


async def make_time_book(gw: Client, admin: dict[str, str], name: str, days: int) -> TimeBook:
    r = await gw.post(
        "/api/booking/time-books",
        headers=admin,
        json={
            "unit_id": UNIT,
            "unit_name": UNIT_NAME,
            "name": f"{name} {uuid.uuid4().hex[:6]}",
            "resources": [{"resource": "nurse", "columns": COLUMNS}],
        },
    )
    r.expect(200, 201)
    tb = r.json()["time_book_id"]
    visit_type_name = "Covid-19 dos 1"
    r = await gw.post(
        f"/api/booking/time-books/{tb}/visit-types",
        headers=admin,
        json={
            "name": visit_type_name,
            "category": "Covid-19",
            "resource": "nurse",
            "duration_minutes": SLOT_MINUTES,
            "dose": 1,
        },
    )
    r.expect(200, 201)
    visit_type = r.json()["visit_types"][-1]["visit_type_id"]
    first = date.today() + timedelta(days=FIRST_DAY_AHEAD)
    for offset in range(0, days, DAYS_PER_OPENING):
        last = min(days, offset + DAYS_PER_OPENING) - 1
        r = await gw.post(
            f"/api/booking/time-books/{tb}/slots",
            headers=admin,
            json={
                "resource": "nurse",
                "columns": list(range(1, COLUMNS + 1)),
                "first_day": (first + timedelta(days=offset)).isoformat(),
                "last_day": (first + timedelta(days=last)).isoformat(),
                "weekdays": [0, 1, 2, 3, 4, 5, 6],
                "day_start": f"{DAY_START:02d}:00",
                "day_end": f"{DAY_END:02d}:00",
                "slot_minutes": SLOT_MINUTES,
            },
        )
        r.expect(200, 201)
    return TimeBook(tb, visit_type, visit_type_name, first, days)


async def wait_for(
    what: str, check: Callable[[], Awaitable[bool]], limit: float, interval: float = 0.5
) -> float:
    """Seconds until ``check`` holds; raises after ``limit`` seconds."""
    began = time.monotonic()
    for _ in range(int(limit / interval) + 1):
        if await check():
            return time.monotonic() - began
        await asyncio.sleep(interval)
    raise TimeoutError(f"{what}: not within {limit:.0f}s")


class Databases:
    """Read-only looks into the services' own databases (as each service's role)."""

    def __init__(self, booking: asyncpg.Connection, notifications: asyncpg.Connection) -> None:
        self.booking = booking
        self.notifications = notifications

    @classmethod
    async def open(cls, p: Platform) -> Databases:
        return cls(
            await asyncpg.connect(plain_url(p.infra.database_url("booking"))),
            await asyncpg.connect(plain_url(p.infra.database_url("notifications"))),
        )

    async def close(self) -> None:
        for conn in (self.booking, self.notifications):
            try:
                await conn.close(timeout=5)
            except Exception:  # interrupted mid-query, or the server is gone
                conn.terminate()

    async def patients_known(self, ids: list[str]) -> bool:
        # The mobile numbers stay in identity: the SMS sender asks for them when it sends.
        in_booking = await self.booking.fetchval(
            "SELECT count(*) FROM patients WHERE patient_id = ANY($1::text[])", ids
        )
        return bool(in_booking == len(ids))

    async def texted_everything(self) -> bool:
        """Every booking relayed, consumed by notifications and its due SMS sent."""
        outbox = await self.booking.fetchval("SELECT count(*) FROM outbox")
        booked = await self.booking.fetchval("SELECT count(*) FROM bookings")
        seen = await self.notifications.fetchval("SELECT count(*) FROM bookings")
        due = await self.notifications.fetchval(
            "SELECT count(*) FROM messages WHERE status IN ('scheduled', 'sending') "
            "AND next_attempt_at <= now()"
        )
        return bool(outbox == 0 and seen >= booked and due == 0)

    async def double_bookings(self) -> int:
        rows = await self.booking.fetch(
            "SELECT slot_id FROM bookings WHERE status = 'booked' "
            "GROUP BY slot_id HAVING count(*) > 1"
        )
        return len(rows)


# --- phases ----------------------------------------------------------------------------------


async def register(
    gw: Client, meter: Meter, nurse: dict[str, str], count: int, concurrency: int
) -> tuple[Phase, Phase, list[str]]:
    people = SyntheticRegister().sample(count, seed=7007, protected=False)
    ids: list[str | None] = [None] * count

    async def add(i: int) -> str:
        r = await gw.post(
            "/api/identity/patients", json={"identifier": people[i].identifier}, headers=nurse
        )
        if r.status in (200, 201):
            ids[i] = r.json()["patient_id"]
        return r.outcome()

    added = await drive(meter, "register patients", count, concurrency, add)
    known = [pid for pid in ids if pid is not None]
    texted: list[str] = []

    async def contact(i: int) -> str:
        r = await gw.put(
            f"/api/identity/patients/{known[i]}/contact",
            json={"mobile": f"+46701{i:06d}"},
            headers=nurse,
        )
        if r.status == 200:
            texted.append(known[i])
        return r.outcome()

    contacts = await drive(meter, "contact details", len(known), concurrency, contact)
    # Later phases book only patients with a mobile number (a 503 above left some without).
    return added, contacts, texted


async def book_phase(
    gw: Client,
    meter: Meter,
    name: str,
    booker: dict[str, str],
    book: TimeBook,
    patients: list[str],
    starts: list[datetime],
    concurrency: int,
    confirmed: dict[str, float] | None = None,
) -> Phase:
    """Staff bookings through the gateway; ``confirmed`` gets each reference and when its
    201 arrived."""

    async def one(i: int) -> str:
        r = await gw.post(
            "/api/booking/bookings",
            headers={**booker, "idempotency-key": str(uuid.uuid4())},
            json={
                "time_book_id": book.time_book_id,
                "visit_type_id": book.visit_type_id,
                "start": starts[i].isoformat(),
                "patient_id": patients[i % len(patients)],
            },
        )
        if r.status == 201 and confirmed is not None:
            confirmed[r.json()["reference"]] = time.time()
        return r.outcome()

    return await drive(meter, name, len(starts), concurrency, one, sample_memory=True)


async def ceiling_phase(
    gw: Client, meter: Meter, booker: dict[str, str], n: int, concurrency: int
) -> Phase:
    async def one(_: int) -> str:
        r = await gw.get("/api/booking/whoami", headers=booker)
        return r.outcome()

    return await drive(meter, f"whoami c={concurrency}", n, concurrency, one)


async def search_while(
    gw: Client,
    booker: dict[str, str],
    book: TimeBook,
    days: list[date],
    done: asyncio.Event,
    searchers: int,
) -> dict[str, Any]:
    """``searchers`` clients search one day's free times in a loop until ``done``."""
    latencies: list[float] = []
    statuses: Counter[str] = Counter()

    async def searcher(k: int) -> None:
        for j in range(1_000_000):  # ends with the rush
            if done.is_set():
                return
            day = days[(j + k) % len(days)]
            lo = datetime(day.year, day.month, day.day, tzinfo=TZ)
            began = time.perf_counter()
            try:
                r = await gw.get(
                    f"/api/booking/time-books/{book.time_book_id}/free-times",
                    headers=booker,
                    params={
                        "visit_type_id": book.visit_type_id,
                        "from": lo.isoformat(),
                        "to": (lo + timedelta(days=1)).isoformat(),
                    },
                )
                code = r.outcome()
            except HttpError as exc:
                code = str(exc).split(":")[0]
            latencies.append(time.perf_counter() - began)
            statuses[code] += 1

    began = time.perf_counter()
    await asyncio.gather(*(searcher(k) for k in range(searchers)))
    seconds = time.perf_counter() - began
    return {
        "per_s": len(latencies) / seconds if seconds else 0.0,
        "p50_ms": pct(latencies, 50) * 1000,
        "p99_ms": pct(latencies, 99) * 1000,
        "statuses": dict(statuses),
        "searchers": searchers,
    }


class SmsRecords:
    """The SMS stand-in's record file, read from where the last read stopped (the same records
    as its ``/_standin/received``, without making the stand-in serialise thousands of them
    while it is being measured)."""

    def __init__(self, p: Platform) -> None:
        path = p.infra.standins["sms"].record_file
        if path is None:
            raise RuntimeError("the SMS stand-in keeps no record file")
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def read_new(self) -> list[tuple[str, float]]:
        """(reference, time accepted) of each SMS recorded since the last read."""
        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1  # a half-written last line waits for the next read
        self.offset += end
        found = []
        for line in data[:end].splitlines():
            record = json.loads(line)
            if record.get("replayed") or record.get("rejected") or record["method"] != "POST":
                continue
            text = str((record.get("body") or {}).get("text", ""))
            for ref in REFERENCE.findall(text):
                found.append((ref, datetime.fromisoformat(record["time"]).timestamp()))
        return found


async def sms_burst(
    gw: Client,
    p: Platform,
    meter: Meter,
    booker: dict[str, str],
    book: TimeBook,
    patients: list[str],
    args: Args,
) -> tuple[Phase, list[float], int]:
    """A burst of bookings; each one's confirmation SMS at the stand-in, minus its 201."""
    records = SmsRecords(p)
    confirmed: dict[str, float] = {}
    concurrency, sms_wait = args.burst_concurrency, args.sms_timeout
    starts = book.plan(args.burst, concurrency)
    phase = await book_phase(
        gw, meter, "SMS burst", booker, book, patients, starts, concurrency, confirmed
    )
    latencies: dict[str, float] = {}
    deadline = time.monotonic() + sms_wait
    for _ in range(int(sms_wait) + 1):
        for ref, at in records.read_new():
            if ref in confirmed and ref not in latencies:
                latencies[ref] = at - confirmed[ref]
        if len(latencies) >= len(confirmed) or time.monotonic() > deadline:
            break
        await asyncio.sleep(1.0)
    return phase, list(latencies.values()), len(confirmed) - len(latencies)


async def raw_database_rate(
    p: Platform,
    meter: Meter,
    book: TimeBook,
    patients: list[str],
    n: int,
    concurrency: int,
    pool: int,
) -> Phase:
    """The booking route's unit of work alone, with booking's own domain and store code:
    shared visit type lock, candidate slots, ``Booking.book`` and the insert that the partial
    unique index decides, the events staged into the outbox; committed bookings per second."""
    db = Database(p.infra.database_url("booking"), pool_size=pool, max_overflow=0)
    unit_of_work = UnitOfWorkFactory(db, Outbox("bench"), on_commit=lambda: None)
    # Each manage code sealed to notifications' key, as the booking service does (issue 9).
    sealer = Sealer.from_file(p.manage_code_keys.public_pem)
    access = AccessLog("booking", unit_of_work)
    assignment = Assignment(
        id=f"{UNIT}:{Role.BOOKING_ONLY.value}",
        role=Role.BOOKING_ONLY,
        unit_id=UNIT,
        care_provider_id="provider-region",
    )
    principal = Principal(
        kind="staff",
        subject=BENCH_HSA,
        hsa_id=BENCH_HSA,
        assignments=(assignment,),
        active_assignment=assignment,
    )
    starts = [s.astimezone(UTC) for s in book.plan(n, concurrency)]
    # Read once, as the route reads them before its unit of work: the time book with its
    # visit type, and booking's patients.
    async with db.connect() as conn:
        time_book = await TimeBooks(conn).get(book.time_book_id)
        if time_book is None:
            raise RuntimeError(f"booking does not know time book {book.time_book_id}")
        visit_type = time_book.visit_type(book.visit_type_id)
        known = [await Patients(conn).get(pid) for pid in patients[:n]]
    people = [patient for patient in known if patient is not None]
    if not people:
        raise RuntimeError("booking knows none of the patients")
    columns = time_book.columns(visit_type.resource)

    class AllTaken(Exception):
        """Rolls the unit of work back: every column was taken."""

    async def one(i: int) -> str:
        patient = people[i % len(people)]
        booking_id = str(uuid.uuid4())
        try:
            async with unit_of_work() as uow:
                await TimeBooks(uow.conn).lock_visit_type(visit_type.visit_type_id)
                candidates, deleted = await Slots(uow.conn).candidates(
                    time_book.time_book_id,
                    visit_type.resource,
                    starts[i],
                    columns,
                    visit_type.visit_type_id,
                )
                now = datetime.now(UTC)
                bookable = replace(visit_type, deleted=True) if deleted else visit_type
                bookings = Bookings(uow)
                for slot in domain.free_slots(bookable, candidates, starts[i], now):
                    booking = domain.Booking.book(
                        booking_id=booking_id,
                        patient=patient,
                        time_book=time_book,
                        visit_type=bookable,
                        slot=slot,
                        booked_by="staff",
                        now=now,
                        sealer=sealer,
                    )
                    if await bookings.add(booking):
                        uow.publish(access.event(principal, Ops.BOOK, patient.patient_id))
                        break
                else:
                    raise AllTaken
        except AllTaken:
            return "taken"
        except Exception as exc:  # reported as a status, like an HTTP error
            return type(exc).__name__
        return "committed"

    try:
        return await drive(meter, f"raw database c={concurrency} pool={pool}", n, concurrency, one)
    finally:
        await db.dispose()


# --- the run ---------------------------------------------------------------------------------


def git_state() -> str:
    def git(*argv: str) -> str:
        try:
            return subprocess.run(
                ["git", *argv], cwd=ROOT, capture_output=True, text=True, check=False, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


@dataclass
class Args:
    levels: list[int]
    bookings: int
    burst: int
    burst_concurrency: int
    patients: int
    register_concurrency: int
    searchers: int
    raw_bookings: int
    raw_pool: int
    sms_timeout: float
    keep: bool = False


@dataclass
class Results:
    registered: Phase
    contacts: Phase
    projection_s: float
    ceilings: dict[int, Phase] = field(default_factory=dict)
    levels: dict[int, Phase] = field(default_factory=dict)
    search: dict[str, Any] = field(default_factory=dict)
    drain_s: float = 0.0
    burst: Phase | None = None
    sms: list[float] = field(default_factory=list)
    sms_missing: int = 0
    raw: Phase | None = None
    double_bookings: int = -1

    def phases(self) -> list[Phase]:
        rounds = [x for c in self.levels for x in (self.ceilings[c], self.levels[c])]
        extra = [x for x in (self.burst, self.raw) if x is not None]
        return [self.registered, self.contacts, *rounds, *extra]


def bearer(p: Platform, role: Role) -> dict[str, str]:
    token = tokens.staff_token(p.keys, role, unit_id=UNIT, ttl=TOKEN_TTL)
    return {"authorization": f"Bearer {token}"}


async def run(p: Platform, args: Args) -> dict[str, Any]:
    meter = Meter(p)
    roots = sorted(meter.roots.items(), key=lambda x: x[1])
    log("pids: " + ", ".join(f"{name}={pid}" for pid, name in roots))
    admin, nurse = bearer(p, Role.TIME_BOOK_ADMIN), bearer(p, Role.NURSE)
    booker = bearer(p, Role.BOOKING_ONLY)
    gw = Client(p.gateway_url)
    dbs = await Databases.open(p)
    try:
        wanted = sum(times_needed(args.bookings, c) for c in args.levels)
        wanted += times_needed(args.burst, args.burst_concurrency)
        main_days = math.ceil(wanted / TIMES_PER_DAY) + 1
        raw_days = math.ceil(times_needed(args.raw_bookings, max(args.levels)) / TIMES_PER_DAY) + 1
        began = time.perf_counter()
        book = await make_time_book(gw, admin, "Bench", main_days)
        raw_book = await make_time_book(gw, admin, "Bench raw", raw_days)
        log(
            f"time books: {main_days} + {raw_days} days x {TIMES_PER_DAY * COLUMNS} slots "
            f"opened in {time.perf_counter() - began:.1f}s"
        )

        registered, contacts, patients = await register(
            gw, meter, nurse, args.patients, args.register_concurrency
        )
        if not patients:
            raise RuntimeError("no patient could be registered")
        known = await wait_for(
            "booking and notifications know every patient",
            lambda: dbs.patients_known(patients),
            limit=900,
        )
        log(f"booking and notifications knew every patient {known:.1f}s later")
        results = Results(registered, contacts, known)

        for concurrency in args.levels:
            results.ceilings[concurrency] = await ceiling_phase(
                gw, meter, booker, args.bookings, concurrency
            )
            starts = book.plan(args.bookings, concurrency)
            searching: asyncio.Task[dict[str, Any]] | None = None
            done = asyncio.Event()
            if concurrency == max(args.levels) and args.searchers > 0:
                days = sorted({s.date() for s in starts})
                searching = asyncio.create_task(
                    search_while(gw, booker, book, days, done, args.searchers)
                )
            results.levels[concurrency] = await book_phase(
                gw, meter, f"book c={concurrency}", booker, book, patients, starts, concurrency
            )
            done.set()
            if searching is not None:
                results.search = await searching
                log(f"free-time searches during c={concurrency}: {results.search}")

        results.drain_s = await wait_for(
            "every booking so far texted", dbs.texted_everything, limit=1800, interval=1.0
        )
        log(f"the SMS pipeline caught up {results.drain_s:.1f}s after the last level")
        results.burst, results.sms, results.sms_missing = await sms_burst(
            gw, p, meter, booker, book, patients, args
        )
        log(f"SMS: {len(results.sms)} matched, {results.sms_missing} missing")
        await wait_for("burst texted", dbs.texted_everything, limit=600, interval=1.0)

        results.raw = await raw_database_rate(
            p, meter, raw_book, patients, args.raw_bookings, max(args.levels), args.raw_pool
        )
        results.double_bookings = await dbs.double_bookings()
        meter.sample_memory()
    finally:
        gw.close()
        await dbs.close()
    return report(args, results, meter.peak)


def report(args: Args, res: Results, memory: Memory) -> dict[str, Any]:
    def r(x: float) -> float:
        return round(x, 1)

    raw, burst, search, sms = res.raw, res.burst, res.search, res.sms
    assert raw is not None and burst is not None
    return {
        "bookings_per_s": {str(c): r(ph.per_s("201")) for c, ph in res.levels.items()},
        "latency_ms": {str(c): ph.latency_ms() for c, ph in res.levels.items()},
        "statuses": {str(c): dict(ph.statuses) for c, ph in res.levels.items()},
        "http_ceiling_per_s": r(max((ph.per_s("200") for ph in res.ceilings.values()), default=0)),
        "http_ceiling_by_level": {str(c): r(ph.per_s("200")) for c, ph in res.ceilings.items()},
        "http_ceiling_latency_ms": {str(c): ph.latency_ms() for c, ph in res.ceilings.items()},
        "raw_db_per_s": r(raw.per_s("committed")),
        "raw_db": {
            "concurrency": raw.concurrency,
            "pool": args.raw_pool,
            "statuses": dict(raw.statuses),
            "latency_ms": raw.latency_ms(),
        },
        "sms_p50_ms": r(pct(sms, 50) * 1000),
        "sms_p99_ms": r(pct(sms, 99) * 1000),
        "sms_max_ms": r(max(sms, default=0) * 1000),
        "sms_matched": len(sms),
        "sms_missing": res.sms_missing,
        "burst": {
            "bookings": burst.requests,
            "concurrency": burst.concurrency,
            "per_s": r(burst.per_s("201")),
            "statuses": dict(burst.statuses),
            "latency_ms": burst.latency_ms(),
        },
        "double_bookings": res.double_bookings,
        "registrations_per_s": r(res.registered.per_s("201", "200")),
        "registration_statuses": dict(res.registered.statuses),
        "registration_latency_ms": res.registered.latency_ms(),
        "contacts_per_s": r(res.contacts.per_s("200")),
        "contact_statuses": dict(res.contacts.statuses),
        "contact_latency_ms": res.contacts.latency_ms(),
        "projection_wait_s": r(res.projection_s),
        "sms_drain_after_levels_s": r(res.drain_s),
        "free_time_search_per_s": r(search.get("per_s", 0.0)),
        "free_time_search_p99_ms": r(search.get("p99_ms", 0.0)),
        "free_time_search": {k: (r(v) if isinstance(v, float) else v) for k, v in search.items()},
        "rss_mb": memory.rss_mb,
        "pss_mb": memory.pss_mb,
        "rss_by_component_mb": memory.by_component_mb,
        "cpu_ms_per_success": {ph.name: ph.cpu_ms_per_success() for ph in res.phases()},
        "cpu_s": {ph.name: ph.cpu for ph in res.phases()},
        "phase_s": {ph.name: r(ph.seconds) for ph in res.phases()},
        "args": vars(args),
    }


def print_table(f: dict[str, Any]) -> None:
    print()
    print(
        f"{'concurrency':>11} {'whoami/s':>9} {'bookings/s':>10} {'% ceil':>6} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}  statuses"
    )
    for c, rate in f["bookings_per_s"].items():
        ceiling = f["http_ceiling_by_level"][c]
        lat = f["latency_ms"][c]
        share = f"{rate / ceiling:.0%}" if ceiling else "-"
        print(
            f"{c:>11} {ceiling:>9.0f} {rate:>10.0f} {share:>6} {lat['p50']:>7.0f} "
            f"{lat['p95']:>7.0f} {lat['p99']:>7.0f}  {f['statuses'][c]}"
        )
    print()
    rows = [
        (
            "raw database rate of the booking transaction",
            f"{f['raw_db_per_s']:.0f}/s "
            f"(c={f['raw_db']['concurrency']}, pool {f['raw_db']['pool']}, {f['raw_db']['statuses']})",
        ),
        (
            "booking -> SMS at the stand-in",
            f"p50 {f['sms_p50_ms']:.0f} ms, p99 "
            f"{f['sms_p99_ms']:.0f} ms, max {f['sms_max_ms']:.0f} ms ({f['sms_matched']} matched, "
            f"{f['sms_missing']} missing; burst {f['burst']['per_s']:.0f} bookings/s "
            f"at c={f['burst']['concurrency']})",
        ),
        ("SMS pipeline caught up after the levels", f"{f['sms_drain_after_levels_s']:.0f} s"),
        ("double bookings", str(f["double_bookings"])),
        ("patients registered", f"{f['registrations_per_s']:.0f}/s {f['registration_statuses']}"),
        ("contact details set", f"{f['contacts_per_s']:.0f}/s {f['contact_statuses']}"),
        ("booking + notifications knew them", f"{f['projection_wait_s']:.0f} s after"),
        (
            "free-time searches during the rush",
            f"{f['free_time_search_per_s']:.0f}/s, p99 {f['free_time_search_p99_ms']:.0f} ms",
        ),
        (
            "resident memory of the stack",
            f"{f['rss_mb']:.0f} MB RSS ({f['pss_mb']:.0f} MB PSS): "
            + ", ".join(f"{k} {v:.0f}" for k, v in f["rss_by_component_mb"].items()),
        ),
    ]
    for label, value in rows:
        print(f"{label:<42} {value}")
    print("\nCPU seconds per phase: machine busy / idle / not this bench | top consumers")
    for name, cpu in f["cpu_s"].items():
        parts = [(k, v) for k, v in cpu.items() if not k.startswith("(")]
        top = ", ".join(f"{k} {v:.1f}" for k, v in parts[:7])
        machine_use = "/".join(
            f"{cpu.get(k, 0):.0f}" for k in ("(machine busy)", "(machine idle)", "(not this bench)")
        )
        print(f"  {name:<28} {f['phase_s'][name]:>6.1f}s wall {machine_use:>10} | {top}")
    print("\nCPU ms per successful request (whole stack, per process; postgres per database):")
    for name, per in f["cpu_ms_per_success"].items():
        total = sum(v for k, v in per.items() if k != "bench-client")
        top = ", ".join(f"{k} {v:.1f}" for k, v in list(per.items())[:9])
        print(f"  {name:<28} {total:>6.1f} ms | {top}")
    print(
        f"\nmachine: {f['machine']['cores']} cores, Python {f['machine']['python']}, "
        f"load {f['machine']['load_before']} -> {f['machine']['load_after']}, {f['commit']}"
    )


def parse(argv: Sequence[str] | None = None) -> Args:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--levels", default="50,200,500", help="concurrency levels")
    parser.add_argument("--bookings", type=int, default=2000, help="bookings per level")
    parser.add_argument("--burst", type=int, default=2000, help="bookings in the SMS burst")
    parser.add_argument("--burst-concurrency", type=int, default=200)
    parser.add_argument("--patients", type=int, default=3000, help="patients to register")
    parser.add_argument("--register-concurrency", type=int, default=50)
    parser.add_argument("--searchers", type=int, default=4, help="free-time searchers")
    parser.add_argument("--raw-bookings", type=int, default=None, help="default: --bookings")
    parser.add_argument(
        "--raw-pool", type=int, default=20, help="connections (booking's own: 10 + 10 overflow)"
    )
    parser.add_argument("--sms-timeout", type=float, default=300.0)
    parser.add_argument("--keep", action="store_true", help="keep the run's logs and data")
    ns = parser.parse_args(argv)
    levels = [int(x) for x in ns.levels.split(",") if x.strip()]
    if not levels or min(levels) < 1 or ns.bookings < 1 or ns.patients < 1:
        parser.error("levels, bookings and patients must be positive")
    return Args(
        levels=levels,
        bookings=ns.bookings,
        burst=ns.burst,
        burst_concurrency=ns.burst_concurrency,
        patients=ns.patients,
        register_concurrency=ns.register_concurrency,
        searchers=ns.searchers,
        raw_bookings=ns.raw_bookings or ns.bookings,
        raw_pool=ns.raw_pool,
        sms_timeout=ns.sms_timeout,
        keep=ns.keep,
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    load_before = loadavg()
    log(f"load before: {load_before}")
    base = Path(tempfile.mkdtemp(prefix="vaccinera-bench-"))
    began = time.monotonic()
    with Platform(base, PlatformPorts.free(), extra_env={"VACCINERA_LOG_LEVEL": "WARNING"}) as p:
        log(f"platform up in {time.monotonic() - began:.0f}s under {base}")
        figures = asyncio.run(run(p, args))
    load_after = loadavg()
    if args.keep:
        log(f"logs and data kept under {base}")
    else:  # a failed run raised above and keeps its logs
        shutil.rmtree(base, ignore_errors=True)
    figures["machine"] = {
        "cores": os.cpu_count(),
        "python": machine.python_version(),
        "arch": machine.machine(),
        "load_before": load_before,
        "load_after": load_after,
    }
    figures["commit"] = git_state()
    figures["date"] = datetime.now(UTC).isoformat(timespec="seconds")
    print_table(figures)
    print(json.dumps(figures, separators=(",", ":")))


if __name__ == "__main__":
    main()
