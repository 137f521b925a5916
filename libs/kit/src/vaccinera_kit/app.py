"""The service factory: one FastAPI app and one Kafka broker in one process, same shape for all.

A service hands over a ``ServiceSpec`` (its routers, tables and migrations, event handlers and
published events); the factory wires settings, logging, telemetry, metrics, errors, health,
database (migrated at start), outbox relay and idempotent consumer around it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, TypeVar

import uvicorn
from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from faststream_fastapi import AsyncAPIConfig, FastStreamAPI
from sqlalchemy import MetaData
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.events import AccessRecorded
from vaccinera_kit import correlation, health, migrations
from vaccinera_kit.access_log import AccessLog
from vaccinera_kit.admission import Admission, AdmissionControl
from vaccinera_kit.auth import TokenVerifier
from vaccinera_kit.consumer import EventConsumer
from vaccinera_kit.database import Database, service_metadata
from vaccinera_kit.logs import configure_logging
from vaccinera_kit.metrics import Metrics
from vaccinera_kit.outbox import Outbox, OutboxRelay
from vaccinera_kit.settings import HttpSettings, ServiceSettings, settings_as
from vaccinera_kit.telemetry import Telemetry
from vaccinera_kit.unit_of_work import UnitOfWorkFactory
from vaccinera_kit.web import install_error_handlers

CORRELATION_HEADER = "X-Correlation-ID"

S = TypeVar("S", bound=ServiceSettings)


class Worker(Protocol):
    """A background loop a service runs beside HTTP and Kafka (e.g. the SMS sender)."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class ServiceSpec:
    title: str
    description: str
    routers: Sequence[APIRouter] = ()
    # The service's tables (with the kit's) and the Alembic scripts that create them.
    metadata: MetaData = field(default_factory=service_metadata)
    migrations: Path | None = None
    handlers: Callable[[EventConsumer], None] | None = None
    publishes: Sequence[type[DomainEvent]] = field(default_factory=tuple)
    # Started once the broker is connected, stopped on shutdown.
    workers: Sequence[Callable[[Service], Worker]] = ()
    # Hooks: ``setup`` once the service is built (e.g. adapters a route needs, on
    # ``service.app.state``); ``after_migrate`` once its schema is migrated, before it is ready
    # (e.g. data loaded at first start).
    setup: Callable[[Service], None] | None = None
    after_migrate: Callable[[Service], Awaitable[None]] | None = None
    version: str = "0.1.0"

    @classmethod
    def from_modules(
        cls,
        title: str,
        description: str,
        *,
        api: ModuleType,
        tables: ModuleType,
        store: ModuleType,
        handlers: ModuleType,
        setup: Callable[[Service], None] | None = None,
        after_migrate: Callable[[Service], Awaitable[None]] | None = None,
    ) -> ServiceSpec:
        """A service's spec from its modules of the standard shape: ``api.routers``,
        ``tables.metadata`` (migrations in ``migrations/`` beside it), ``store.PUBLISHES``,
        ``handlers.register`` and ``handlers.WORKERS`` (if any); the hooks as given."""
        assert tables.__file__ is not None
        return cls(
            title=title,
            description=description,
            routers=api.routers,
            metadata=tables.metadata,
            migrations=Path(tables.__file__).parent / "migrations",
            handlers=handlers.register,
            publishes=store.PUBLISHES,
            workers=getattr(handlers, "WORKERS", ()),
            setup=setup,
            after_migrate=after_migrate,
        )


class Service:
    """Everything one running service holds; routes reach it as ``request.app.state.service``."""

    def __init__(self, settings: ServiceSettings, spec: ServiceSpec) -> None:
        self.settings = settings
        self.spec = spec
        name = settings.service_name
        configure_logging(name, settings.log_level)
        self.telemetry = Telemetry(settings)
        self.metrics = Metrics(name)
        self.db = Database(
            settings.database_dsn,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
        self.broker = KafkaBroker(
            settings.kafka_bootstrap,
            acks="all",
            enable_idempotence=True,
            client_id=f"vaccinera-{name}",
            allow_auto_create_topics=False,
            log_level=logging.DEBUG,  # one line per message at INFO would drown the logs
        )
        self.outbox = Outbox(producer=name)
        self.relay = OutboxRelay(
            self.db,
            self.send_raw,
            self.telemetry,
            service=name,
            poll_interval=settings.relay_poll_interval,
            batch=settings.relay_batch,
            on_published=lambda topic, n: self.metrics.events_published.labels(topic).inc(n),
        )
        # ``async with service.unit_of_work() as uow``: one transaction, events included.
        self.unit_of_work = UnitOfWorkFactory(self.db, self.outbox, self.relay.wake)
        self.workers: list[Worker] = []
        self.access_log = AccessLog(name, self.unit_of_work)
        self.consumer = EventConsumer(
            name,
            self.unit_of_work,
            self.publish_raw,
            self.telemetry,
            self.metrics,
            max_attempts=settings.consumer_max_attempts,
            workers=settings.consumer_workers,
            settings=settings,
        )
        if spec.handlers is not None:
            spec.handlers(self.consumer)
        self.consumer.attach(self.broker)
        published: tuple[type[DomainEvent], ...] = (*spec.publishes, AccessRecorded)
        for model in published:
            # Declared for the AsyncAPI document: the relay does the publishing.
            self.broker.publisher(
                model.topic,
                title=f"{model.topic}:{model.event_type}",
                description=(model.__doc__ or "").strip(),
                schema=model,
            )
        self.app = build_http_app(
            settings,
            title=spec.title,
            description=spec.description,
            version=spec.version,
            telemetry=self.telemetry,
            metrics=self.metrics,
            lifespan=self._lifespan,
        )
        self.app.state.service = self
        self.app.include_router(health.router)
        for router in spec.routers:
            self.app.include_router(router)
        self.admission = Admission(name, settings.max_in_flight, settings.request_deadline)
        # Added last, so outermost: a rejected request costs nothing further.
        self.app.add_middleware(AdmissionControl, admission=self.admission)
        self.asgi = FastStreamAPI(
            self.broker,
            application=self.app,
            specification=AsyncAPI(
                self.broker,
                title=spec.title,
                version=spec.version,
                description=f"Events {name} publishes and consumes.",
            ),
            # No "try it out": it would let any caller publish to Kafka.
            asyncapi_path=AsyncAPIConfig("/asyncapi", try_it_out_path=None),
            safe_connection=True,
            connection_hook=self._connect_broker,
        )
        if spec.setup is not None:
            spec.setup(self)

    def settings_as(self, settings_class: type[S]) -> S:
        """This service's settings as its own class (``Settings`` of its package)."""
        return settings_as(self.settings, settings_class)

    async def publish_raw(
        self, topic: str, key: str, value: bytes, headers: dict[str, str]
    ) -> None:
        await self.broker.publish(value, topic=topic, key=key.encode(), headers=headers)

    async def send_raw(
        self, topic: str, key: str, value: bytes, headers: dict[str, str]
    ) -> asyncio.Future[Any]:
        """Hand a record to the producer; the returned future resolves on acknowledgement."""
        return await self.broker.publish(
            value, topic=topic, key=key.encode(), headers=headers, no_confirm=True
        )

    async def migrate(self) -> None:
        await migrations.upgrade(self.db, self.spec.migrations, self.spec.metadata)
        if self.spec.after_migrate is not None:
            await self.spec.after_migrate(self)

    async def readiness(self) -> dict[str, bool]:
        return {
            "database": await health.with_timeout(self.db.ping()),
            "broker": await health.with_timeout(self.broker.ping(timeout=2)),
        }

    async def _connect_broker(self, broker: Any) -> None:
        await broker.start()
        # The relay and the workers start once they can publish.
        self.relay.start()
        for factory in self.spec.workers:
            worker = factory(self)
            worker.start()
            self.workers.append(worker)

    @asynccontextmanager
    async def _lifespan(self, _: FastAPI) -> AsyncIterator[None]:
        await self.migrate()
        try:
            yield
        finally:
            for worker in self.workers:
                await worker.stop()
            await self.relay.stop()
            await self.db.dispose()
            self.telemetry.shutdown()


def build_http_app(
    settings: HttpSettings,
    *,
    title: str,
    description: str,
    version: str,
    telemetry: Telemetry,
    metrics: Metrics,
    lifespan: Callable[[FastAPI], Any] | None = None,
) -> FastAPI:
    """The HTTP half every service and the gateway share."""
    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan)
    app.state.token_verifier = TokenVerifier.from_settings(settings)
    install_error_handlers(app)

    # Pure ASGI middleware, not ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware runs
    # each request in a task of its own, measured at a fifth of the gateway's time per request.
    app.add_middleware(CorrelationMiddleware)
    metrics.install(app)
    telemetry.instrument(app)
    return app


class CorrelationMiddleware:
    """Takes the caller's ``X-Correlation-ID`` (or makes one), keeps it for the request's
    events and logs, and returns it in the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(CORRELATION_HEADER)
        correlation_id = (given or str(uuid.uuid4()))[:100]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[CORRELATION_HEADER] = correlation_id
            await send(message)

        with correlation.causality(correlation_id):
            await self.app(scope, receive, send_with_id)


def service_factory(
    spec: ServiceSpec, settings_class: type[ServiceSettings]
) -> Callable[[ServiceSettings | None], Service]:
    """``create_service(settings=None)`` for a service's ``main`` module."""

    def create_service(settings: ServiceSettings | None = None) -> Service:
        if settings is None:
            settings = settings_class()
        elif not isinstance(settings, settings_class):
            settings = settings_class(**settings.model_dump())
        return Service(settings, spec)

    return create_service


def run(create_service: Callable[[ServiceSettings | None], Service]) -> None:
    """``python -m vaccinera_<name>.main``: serve HTTP and Kafka in this process."""
    service = create_service(None)
    serve(service.asgi, service.settings)


def serve(asgi: Any, settings: HttpSettings, *, proxy_headers: bool = True) -> None:
    """``proxy_headers=False``: the app reads X-Forwarded-* itself (the gateway's edge), so
    uvicorn leaves the scheme and client address as the connection has them."""
    uvicorn.run(
        asgi,
        host=settings.http_host,
        port=settings.http_port,
        proxy_headers=proxy_headers,
        log_config=None,  # our JSON, masked logging (configured by the service)
        timeout_graceful_shutdown=10,
        # Longer than any client keeps an idle connection (httpx: 5 s), so the client always
        # drops it first: a server closing it just as a request goes out loses that request.
        timeout_keep_alive=75,
    )
