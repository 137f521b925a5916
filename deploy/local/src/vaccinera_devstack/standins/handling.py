"""One domain request's path through a stand-in: injected behaviour, replay, recording."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from vaccinera_devstack.standins.recorder import RECORDED_HEADERS, Recorder, Reply, RequestRecord

Endpoint = Callable[[Any], Reply]


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _headers(request: Request) -> dict[str, str]:
    picked = {name: request.headers[name] for name in RECORDED_HEADERS if name in request.headers}
    if "authorization" in request.headers:
        picked["authorization"] = request.headers["authorization"].split(" ", 1)[0] + " ***"
    return picked


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        # orjson: a register's batch Bundles hold hundreds of resources.
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", errors="replace")


async def serve(request: Request, endpoint: Endpoint) -> Response:
    """Run one domain request through behaviour injection, idempotent replay and recording."""
    recorder: Recorder = request.app.state.recorder
    body = _parse(await request.body())
    if recorder.behaviour.delay_ms:
        await asyncio.sleep(recorder.behaviour.delay_ms / 1000)
    fail_status = recorder.take_failure()
    key = request.headers.get("idempotency-key")
    replay_key = (request.url.path, key) if key else None
    replayed = False
    if fail_status is not None:
        reply = Reply(fail_status, {"error": "stand-in injected failure", "status": fail_status})
    elif replay_key is not None and replay_key in recorder.replies:
        reply, replayed = recorder.replies[replay_key], True
    else:
        reply = endpoint(body)
        if replay_key is not None and 200 <= reply.status < 300:
            recorder.replies[replay_key] = reply
    record: RequestRecord = {
        "time": now_iso(),
        "method": request.method,
        "path": request.url.path,
        "query": request.url.query,
        "headers": _headers(request),
        "body": body,
        "status": reply.status,
        "rejected": fail_status is not None,
        "replayed": replayed,
        "reply": reply.body,
    }
    recorder.add(record)
    return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)
