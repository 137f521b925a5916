"""Entry point: ``python -m vaccinera_gateway.main``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from vaccinera_gateway import api, domain
from vaccinera_gateway.settings import Settings
from vaccinera_kit.app import build_http_app, serve
from vaccinera_kit.logs import configure_logging
from vaccinera_kit.metrics import Metrics
from vaccinera_kit.telemetry import Telemetry

TITLE = "Vaccinera"
VERSION = "0.1.0"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.service_name, settings.log_level)
    telemetry = Telemetry(settings)
    upstreams = api.Upstreams(settings.service_urls, settings.upstream_timeout)
    merged: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await upstreams.close()
            telemetry.shutdown()

    app = build_http_app(
        settings,
        title=TITLE,
        description="Gateway",
        version=VERSION,
        telemetry=telemetry,
        metrics=Metrics(settings.service_name),
        lifespan=lifespan,
    )
    app.state.upstreams = upstreams
    app.state.telemetry = telemetry
    for router in api.routers:
        app.include_router(router)
    app.router.routes.append(api.forward_route())

    async def openapi_json(_: Request) -> JSONResponse:
        # Built on demand and kept once every service answered: services may start later.
        if not merged:
            documents = await upstreams.openapi_documents()
            document = domain.merge_openapi(TITLE, VERSION, documents)
            if all(d is not None for d in documents.values()):
                merged.update(document)
            return JSONResponse(document)
        return JSONResponse(merged)

    app.router.routes = [r for r in app.router.routes if getattr(r, "path", "") != "/openapi.json"]
    app.add_route("/openapi.json", openapi_json, include_in_schema=False)
    return app


if __name__ == "__main__":
    settings = Settings()
    serve(create_app(settings), settings)
