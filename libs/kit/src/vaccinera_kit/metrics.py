"""Prometheus metrics at ``/metrics``; one registry per service so tests can host several."""

from __future__ import annotations

import time

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "vaccinera_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "vaccinera_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
        )
        self.events_published = Counter(
            "vaccinera_events_published",
            "Events published by the outbox relay",
            ["topic"],
            registry=self.registry,
        )
        self.events_consumed = Counter(
            "vaccinera_events_consumed",
            "Events consumed, by outcome (handled, duplicate, ignored, dead_lettered)",
            ["type", "outcome"],
            registry=self.registry,
        )

    def install(self, app: FastAPI) -> None:
        app.add_middleware(MetricsMiddleware, metrics=self)

        @app.get("/metrics", include_in_schema=False)
        async def _metrics() -> Response:
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Requests and latency by method, route template and status (pure ASGI: no task per
    request)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # an exception that escapes everything is answered 500 by the server

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            route = _route_template(scope)
            method = str(scope.get("method", ""))
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - start)
            self.metrics.requests.labels(method, route, str(status)).inc()


def _route_template(scope: Scope) -> str:
    # The template, never the raw path: raw paths may hold identifiers and blow up cardinality.
    # The router records the matched route in the (shared) scope on its way down.
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched"))
