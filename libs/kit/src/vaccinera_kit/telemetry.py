"""OpenTelemetry tracing through HTTP and Kafka (W3C trace context in headers).

Each service owns a TracerProvider instead of the global one, so several services can share a
process in tests and still report under their own ``service.name``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from fastapi import FastAPI
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from vaccinera_kit.settings import HttpSettings

TRACE_HEADERS = ("traceparent", "tracestate")


class Telemetry:
    def __init__(self, settings: HttpSettings) -> None:
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": f"vaccinera-{settings.service_name}"})
        )
        self.memory: InMemorySpanExporter | None = None
        self._out: IO[str] | None = None
        match settings.otel_exporter:
            case "memory":
                self.memory = InMemorySpanExporter()
                self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
            case "console":
                self._out = _open_span_file(settings.otel_console_path)
                exporter = ConsoleSpanExporter(
                    out=self._out, formatter=lambda s: s.to_json(indent=None) + os.linesep
                )
                self.provider.add_span_processor(SimpleSpanProcessor(exporter))
            case "otlp":
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter,
                )

                self.provider.add_span_processor(
                    BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint))
                )
            case "none":
                pass
        self.exporting = settings.otel_exporter != "none"
        self.tracer = self.provider.get_tracer("vaccinera")

    def instrument(self, app: FastAPI) -> None:
        # Without an exporter nobody sees a server span, and making one costs about a sixth of
        # a service's CPU per request (measured in a booking rush): none then.
        if not self.exporting:
            return
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=self.provider,
            excluded_urls="health,ready,metrics",
            exclude_spans=["receive", "send"],  # one span per request, not three
        )

    @contextmanager
    def consumer_span(self, name: str, headers: Mapping[str, str]) -> Iterator[trace.Span]:
        """A span for handling one Kafka message, child of the producer's trace."""
        parent = propagate.extract(dict(headers))
        with self.tracer.start_as_current_span(
            name, context=parent, kind=trace.SpanKind.CONSUMER
        ) as span:
            yield span

    @contextmanager
    def producer_span(
        self, name: str, parent_headers: Mapping[str, str]
    ) -> Iterator[dict[str, str]]:
        """A publish span under the trace that staged the event; yields headers to send."""
        parent = propagate.extract(dict(parent_headers))
        with self.tracer.start_as_current_span(name, context=parent, kind=trace.SpanKind.PRODUCER):
            yield current_trace_headers()

    def finished_spans(self) -> tuple[ReadableSpan, ...]:
        return self.memory.get_finished_spans() if self.memory else ()

    def shutdown(self) -> None:
        self.provider.shutdown()
        if self._out is not None:
            self._out.close()


def current_trace_headers(context: Context | None = None) -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=context)
    return {k: v for k, v in carrier.items() if k in TRACE_HEADERS}


def _open_span_file(path: Path | None) -> IO[str]:
    if path is None:
        import sys

        return sys.stdout
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("a", buffering=1, encoding="utf-8")
