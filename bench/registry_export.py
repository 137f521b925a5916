"""Benchmark (not a test): an NVR export of many given doses (issue 11, RX-1).

    uv run python bench/registry_export.py [--doses 1000000] [--batch 2000] [--bundle 500]
                                           [--concurrency 4] [--receiver-validates]

It starts its own PostgreSQL and NVR stand-in (and Kafka, unused) on free ports in a temporary
directory, migrates a registry-export database, seeds ``--doses`` given doses of as many
patients with one pending NVR report each (``INSERT … SELECT generate_series``: the benchmark
measures the export, not the ledger's filling), and runs the export from the command line
(``python -m vaccinera_registry_export.export``, the same code as the service's NVR run) as a
child process. It reports the wall time, the rate, the exporter's peak resident memory and its
CPU seconds, the CPU seconds of PostgreSQL and of the stand-in, and checks that every report is
acknowledged and every dose reached the stand-in.

By default the stand-in neither validates the resources nor keeps them: the register's own
validation and storage are its CPU and memory, not the exporter's, and on this machine they
share the same two cores. ``--receiver-validates`` makes it validate each Immunization with
``fhir.resources`` as the tests' stand-in does. The exporter always validates every resource
before sending it.

Ends with ONE JSON line holding every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as machine
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from vaccinera_devstack.infra import Infrastructure, Ports
from vaccinera_devstack.process import free_port
from vaccinera_kit import migrations
from vaccinera_kit.database import Database, plain_url
from vaccinera_registry_export import tables

SEED = """
INSERT INTO patients (patient_id, identifier, identifier_kind)
SELECT 'bench-p' || g, '19' || lpad(g::text, 10, '0'), 'personnummer'
FROM generate_series(1, $1) AS g;

INSERT INTO doses (administration_id, patient_id, vaccine_id, vaccine_name, atc_code,
                   dose_number, batch_number, unit_id, care_provider_id, administered_at,
                   vaccinator_hsa_id, version)
SELECT 'bench-a' || g, 'bench-p' || g, 'vaccine-comirnaty', 'Comirnaty', 'J07BN01',
       1 + g % 3, 'FK' || (g % 997), 'unit-' || (g % 40), 'provider-region',
       now() - (g % 86400) * interval '1 second', 'SE2321000016-' || (g % 500), 1
FROM generate_series(1, $1) AS g;

INSERT INTO reports (administration_id, receiver, version, identifier, identifier_kind, state,
                     due_at, created_at)
SELECT 'bench-a' || g, 'nvr', 1, '19' || lpad(g::text, 10, '0'), 'personnummer', 'pending',
       now() - interval '1 minute', now()
FROM generate_series(1, $1) AS g;
"""


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def postgres_pids(postmaster: int) -> list[int]:
    """The postmaster and its children (the backends that did the work)."""
    pids = [postmaster]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == postmaster:
                pids.append(int(entry.name))
    return pids


def all_postgres_cpu(postmaster: int) -> float:
    """CPU of the postmaster and every backend, those that ended included (cutime)."""
    ticks = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{postmaster}/stat").read_text().rsplit(")", 1)[1].split()
    ended = (int(fields[13]) + int(fields[14])) / ticks
    return ended + cpu_seconds(postgres_pids(postmaster))


async def seed(url: str, doses: int) -> float:
    db = Database(url)
    try:
        scripts = Path(tables.__file__).parent / "migrations"
        await migrations.upgrade(db, scripts, tables.metadata)
    finally:
        await db.dispose()
    began = time.monotonic()
    conn = await asyncpg.connect(plain_url(url))
    try:
        for statement in SEED.split(";\n"):
            if statement.strip():
                await conn.execute(statement, doses)
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return time.monotonic() - began


async def verify(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(plain_url(url))
    try:
        rows = await conn.fetch("SELECT state, count(*) AS n FROM reports GROUP BY state")
    finally:
        await conn.close()
    return {r["state"]: r["n"] for r in rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--doses", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=2000, help="reports per transaction")
    parser.add_argument("--bundle", type=int, default=500, help="reports per FHIR Bundle")
    parser.add_argument("--concurrency", type=int, default=4, help="Bundles in flight")
    parser.add_argument("--parallel", type=int, default=3, help="batches in flight")
    parser.add_argument("--receiver-validates", action="store_true")
    parser.add_argument("--profile", metavar="FILE", help="run the exporter under py-spy")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="vaccinera-bench-rx-"))
    ports = Ports(*(free_port() for _ in range(6)))
    infra = Infrastructure(base, ports, durable=True)
    infra.start()
    try:
        url = infra.database_url("registry-export")
        seeded = asyncio.run(seed(url, args.doses))
        print(f"seeded {args.doses:,} doses in {seeded:.1f} s", file=sys.stderr)
        nvr = infra.standins["nvr"]
        with infra.standin("nvr") as standin:
            standin.reset()
            standin.behave(validate_fhir=args.receiver_validates, keep_bodies=False)
        env = {
            **os.environ,
            "VACCINERA_SERVICE_NAME": "registry-export",
            "VACCINERA_DATABASE_URL": url,
            "VACCINERA_NVR_URL": f"{infra.standin_url('nvr')}/nvr/fhir",
            "VACCINERA_BATCH_SIZE": str(args.batch),
            "VACCINERA_NVR_BUNDLE_SIZE": str(args.bundle),
            "VACCINERA_CONCURRENCY": str(args.concurrency),
            "VACCINERA_NVR_PARALLEL_BATCHES": str(args.parallel),
            "VACCINERA_RECEIVER_TIMEOUT": "120",
            "VACCINERA_OTEL_EXPORTER": "none",
        }
        postmaster = int((infra.postgres.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        assert nvr.process is not None and nvr.process.pid is not None
        standin_pid = nvr.process.pid
        pg_before, standin_before = all_postgres_cpu(postmaster), cpu_seconds([standin_pid])
        began = time.monotonic()
        command = [sys.executable, "-m", "vaccinera_registry_export.export"]
        if args.profile:  # py-spy's raw stacks: where the exporter's time goes
            spy = [os.path.expanduser("~/.local/bin/uvx"), "py-spy", "record", "-f", "raw"]
            command = [*spy, "-r", "200", "-o", args.profile, "--", *command]
        exported = subprocess.run(
            command,
            env=env,
            check=False,
        )
        elapsed = time.monotonic() - began
        child = resource.getrusage(resource.RUSAGE_CHILDREN)
        pg_cpu = all_postgres_cpu(postmaster) - pg_before
        standin_cpu = cpu_seconds([standin_pid]) - standin_before
        states = asyncio.run(verify(url))
        requests = len(httpx.get(f"{infra.standin_url('nvr')}/_standin/received").json())
    finally:
        infra.stop()
    figures: dict[str, Any] = {
        "benchmark": "registry_export",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{machine.node()} {os.cpu_count()} cores {machine.machine()}",
        "doses": args.doses,
        "batch": args.batch,
        "bundle": args.bundle,
        "concurrency": args.concurrency,
        "parallel": args.parallel,
        "receiver_validates": args.receiver_validates,
        "exit_code": exported.returncode,
        "seconds": round(elapsed, 1),
        "doses_per_second": round(args.doses / elapsed),
        "exporter_peak_rss_mib": round(child.ru_maxrss / 1024),
        "exporter_cpu_seconds": round(child.ru_utime + child.ru_stime, 1),
        "postgres_cpu_seconds": round(pg_cpu, 1),
        "standin_cpu_seconds": round(standin_cpu, 1),
        "standin_requests": requests,
        "reports": states,
    }
    print(json.dumps(figures))
    ok = exported.returncode == 0 and states.get("acknowledged") == args.doses
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
