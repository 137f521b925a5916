"""Entry point: ``python -m vaccinera_gateway.main``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.types import ASGIApp

from vaccinera_gateway import api, docs, domain, edge
from vaccinera_gateway.settings import Settings
from vaccinera_kit.app import build_http_app, serve
from vaccinera_kit.logs import configure_logging
from vaccinera_kit.metrics import Metrics
from vaccinera_kit.telemetry import Telemetry

TITLE = "Vaccinera"
VERSION = "0.1.0"
DOCS_PATH = "/docs"


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
    # Whose X-Forwarded-For names the caller (api.forward): the trusted proxies' only.
    app.state.trusted_proxy = (
        edge.proxy_check(settings.trusted_proxies) if settings.trusted_proxies else None
    )
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

    docs_page, docs_policy = docs.swagger_page(f"{TITLE} API", settings.docs_assets_url)

    async def swagger_ui(_: Request) -> HTMLResponse:
        return HTMLResponse(docs_page)

    # FastAPI's own pages give way to the gateway's: the merged document, and Swagger UI under
    # a policy of its own (ReDoc and the OAuth2 redirect page are not needed: bearer tokens).
    replaced = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", "") not in replaced]
    app.add_route("/openapi.json", openapi_json, include_in_schema=False)
    app.add_route(DOCS_PATH, swagger_ui, include_in_schema=False)

    policy = edge.EdgePolicy(
        max_body_bytes=settings.max_body_bytes,
        content_security_policy=settings.content_security_policy,
        strict_transport_security=settings.strict_transport_security,
        cors_origins=tuple(settings.cors_origins),
        cors_allow_credentials=settings.cors_allow_credentials,
        cors_max_age=settings.cors_max_age,
        trusted_proxies=tuple(settings.trusted_proxies),
        page_policies={DOCS_PATH: docs_policy},
    )
    # The edge goes outside the whole stack, error pages included (add_middleware would put it
    # inside Starlette's ServerErrorMiddleware, so a 500 would go out without its headers).
    build_stack = app.build_middleware_stack

    def build_edged_stack() -> ASGIApp:
        return edge.Edge(build_stack(), policy)

    app.build_middleware_stack = build_edged_stack  # type: ignore[method-assign]
    return app


if __name__ == "__main__":
    settings = Settings()
    # The edge alone decides which proxy's X-Forwarded-Proto to believe (trusted_proxies), so
    # uvicorn is not to rewrite the scheme and client address from those headers first.
    serve(create_app(settings), settings, proxy_headers=False)
