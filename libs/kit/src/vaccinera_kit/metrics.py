"""Prometheus metrics at ``/metrics``; one registry per service so tests can host several."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest


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
        @app.middleware("http")
        async def _measure(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            start = time.perf_counter()
            response = await call_next(request)
            route = _route_template(request)
            self.latency.labels(request.method, route).observe(time.perf_counter() - start)
            self.requests.labels(request.method, route, str(response.status_code)).inc()
            return response

        @app.get("/metrics", include_in_schema=False)
        async def _metrics() -> Response:
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def _route_template(request: Request) -> str:
    # The template, never the raw path: raw paths may hold identifiers and blow up cardinality.
    # The router records the matched route in the (shared) scope on its way down.
    route = request.scope.get("route")
    return str(getattr(route, "path", "unmatched"))
