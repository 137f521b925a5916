"""Writes a state change with its outbox event, then dies by SIGKILL before any relay runs.

Run as a subprocess by test_outbox_relay: ``python crash_after_write.py MONGO_URL DB ID``.
"""

import asyncio
import os
import signal
import sys

from kit_test_app import COUNTERS, CounterBumped
from vaccinera_kit.database import connect
from vaccinera_kit.outbox import Outbox


async def main(url: str, database: str, counter_id: str) -> None:
    client = connect(url)
    outbox = Outbox(producer="kit-test")
    doc = outbox.new_document(
        {"_id": counter_id, "n": 1}, [CounterBumped(counter_id=counter_id, amount=1)]
    )
    await client[database][COUNTERS].insert_one(doc)
    print(doc["_outbox"][0]["event_id"], flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
