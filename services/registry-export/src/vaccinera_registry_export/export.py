"""``python -m vaccinera_registry_export.export``: an NVR run from the command line (RX-1), with
progress (reports, rate, time left). It runs beside the service's replicas, through the same
ledger and locks: what it sends, they skip. Settings come from the same environment
(``VACCINERA_DATABASE_URL``, ``VACCINERA_NVR_URL`` …)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from vaccinera_kit.database import Database
from vaccinera_kit.outbox import Outbox
from vaccinera_kit.unit_of_work import UnitOfWorkFactory
from vaccinera_registry_export.handlers import make_senders
from vaccinera_registry_export.services.runs import request_run, run_due
from vaccinera_registry_export.services.sending import Tally, now
from vaccinera_registry_export.settings import Settings
from vaccinera_registry_export.tables import reports


class Progress:
    """One line, rewritten: reports settled of those due, the rate, the time left."""

    def __init__(self, due: int) -> None:
        self.due = max(due, 1)
        self.began = time.monotonic()

    def __call__(self, tally: Tally) -> None:
        elapsed = max(time.monotonic() - self.began, 1e-6)
        rate = tally.settled / elapsed
        left = (self.due - tally.settled) / rate if rate else float("inf")
        sys.stderr.write(
            f"\r{tally.settled:,}/{self.due:,} reports ({tally.failed:,} failed, "
            f"{tally.retried:,} to retry), {rate:,.0f}/s, about {left:,.0f} s left   "
        )
        sys.stderr.flush()


async def export(receiver: str) -> Tally:
    settings = Settings()
    db = Database(settings.database_dsn)
    unit_of_work = UnitOfWorkFactory(db, Outbox(producer=settings.service_name), lambda: None)
    try:
        async with db.connect() as conn:
            due = await conn.scalar(
                select(func.count()).where(
                    reports.c.receiver == receiver,
                    reports.c.state == "pending",
                    reports.c.due_at <= now(),
                )
            )
        async with httpx.AsyncClient(timeout=settings.receiver_timeout) as client:
            sender = make_senders(settings, unit_of_work, client)[receiver]
            await request_run(unit_of_work, receiver, "command line")
            tally = await run_due(
                sender,
                timedelta(seconds=settings.nvr_interval_seconds),
                timedelta(seconds=settings.run_lease_seconds),
                Progress(int(due or 0)),
            )
        sys.stderr.write("\n")
        return tally or Tally()
    finally:
        await db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--receiver", choices=["nvr"], default="nvr")
    args = parser.parse_args(argv)
    tally = asyncio.run(export(args.receiver))
    print(f"sent {tally.sent}, failed {tally.failed}, to retry {tally.retried}")
    return 0 if tally.failed == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
