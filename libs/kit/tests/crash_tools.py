"""Processes that die by SIGKILL at the worst moment, run by test_spine_kit as subprocesses.

``python crash_tools.py after-write DATABASE_URL BOOTSTRAP COUNTER_ID``
    commits a state change with its event, then dies before any relay runs.
``python crash_tools.py mid-relay DATABASE_URL BOOTSTRAP N``
    commits N events, lets its relay publish them all, and dies the moment Kafka has
    acknowledged the last one, before the relay could delete them from the outbox.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import kit_test_app as app
from vaccinera_kit.app import Service


def _die(*_: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def after_write(service: Service, counter_id: str) -> None:
    async with service.unit_of_work() as uow:
        await app.bump_counter(uow, counter_id, 1)
    _die()


async def mid_relay(service: Service, count: int) -> None:
    for i in range(count):
        async with service.unit_of_work() as uow:
            await app.bump_counter(uow, f"mid-relay-{i}", 1)
    await service.broker.start()
    sent = 0
    real_send = service.relay.send

    async def send(topic: str, key: str, value: bytes, headers: dict[str, str]) -> Any:
        nonlocal sent
        ack = await real_send(topic, key, value, headers)
        sent += 1
        if sent == count:
            # Runs before the relay's own wait on this ack returns: published, not deleted.
            ack.add_done_callback(_die)
        return ack

    service.relay.send = send
    await service.relay.drain()
    raise SystemExit("the relay finished without being killed")


async def main(mode: str, url: str, bootstrap: str, arg: str) -> None:
    service = app.build(bootstrap, url)
    await service.migrate()
    if mode == "after-write":
        await after_write(service, arg)
    else:
        await mid_relay(service, int(arg))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
