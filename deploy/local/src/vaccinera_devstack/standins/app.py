"""The FastAPI app shared by every stand-in: domain routes plus the /_standin control API."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request

from vaccinera_devstack.standins import fhir, sms
from vaccinera_devstack.standins.recorder import Behaviour, Recorder, RequestRecord

KINDS = ("sms", "nvr", "npo")


def control_router() -> APIRouter:
    router = APIRouter(prefix="/_standin")

    @router.get("/health")
    async def health(request: Request) -> dict[str, str]:
        return {"status": "ok", "kind": request.app.state.kind}

    @router.get("/received")
    async def received(
        request: Request,
        path: str | None = None,
        method: str | None = None,
        include_rejected: bool = False,
    ) -> list[RequestRecord]:
        recorder: Recorder = request.app.state.recorder
        return recorder.select(path, method, include_rejected)

    @router.delete("/received")
    async def clear(request: Request) -> dict[str, int]:
        recorder: Recorder = request.app.state.recorder
        return {"cleared": recorder.clear()}

    @router.get("/behaviour")
    async def get_behaviour(request: Request) -> Behaviour:
        recorder: Recorder = request.app.state.recorder
        return recorder.behaviour

    @router.post("/behaviour")
    async def set_behaviour(request: Request, behaviour: Behaviour) -> Behaviour:
        recorder: Recorder = request.app.state.recorder
        recorder.behaviour = behaviour
        return behaviour

    return router


def create_app(kind: str, record_file: Path | None = None) -> FastAPI:
    if kind not in KINDS:
        raise ValueError(f"unknown stand-in kind {kind!r}; expected one of {KINDS}")
    domain = sms.router() if kind == "sms" else fhir.router(kind)
    app = FastAPI(title=f"vaccinera {kind} stand-in", docs_url=None, redoc_url=None)
    app.state.kind = kind
    app.state.recorder = Recorder(record_file)
    app.include_router(control_router())
    app.include_router(domain)
    return app
