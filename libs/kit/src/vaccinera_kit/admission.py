"""Admission control: a service bounds its in-flight requests and says "busy" at once when
full, instead of queueing work its callers have long given up on (issue 7 item 9).

- Full: 503 with ``Retry-After`` before anything is read or written.
- Admitted work runs under a deadline. When it passes, the request is cancelled, which rolls its
  unit of work back, and the caller gets 503: nothing is committed after the caller was told it
  failed. (The gateway waits longer than this deadline, so it relays the service's answer.)
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Probes and scrapes must get through a full service: they say how full it is.
EXEMPT = frozenset({"/health", "/ready", "/metrics"})


@dataclass
class Admission:
    """The limits and the live counts of one process."""

    service: str
    max_in_flight: int
    deadline: float
    in_flight: int = 0
    rejected: int = 0
    timed_out: int = 0


class AdmissionControl:
    """ASGI middleware: ``app.add_middleware(AdmissionControl, admission=Admission(...))``."""

    def __init__(self, app: ASGIApp, admission: Admission) -> None:
        self.app = app
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.admission
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        if state.in_flight >= state.max_in_flight:
            state.rejected += 1
            await _unavailable(
                send,
                "overloaded",
                f"The {state.service} service is busy. Nothing was changed; try again in a moment.",
            )
            return
        state.in_flight += 1
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            async with asyncio.timeout(state.deadline):
                await self.app(scope, receive, tracking_send)
        except TimeoutError:
            state.timed_out += 1
            if not started:
                await _unavailable(
                    send,
                    "deadline_exceeded",
                    f"The {state.service} service could not finish in time. Nothing was "
                    "changed; try again in a moment.",
                )
        finally:
            state.in_flight -= 1


async def _unavailable(send: Send, code: str, message: str) -> None:
    body: dict[str, Any] = {"status": 503, "code": code, "message": message, "details": []}
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"retry-after", b"1"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
