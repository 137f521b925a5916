"""The one way a route is declared and gets what it needs.

    @endpoint(router, Ops.BOOK, status_code=201, errors=(404, 409))
    async def book(body: BookIn, principal: Allowed, service: ServiceDep) -> BookingOut:
        return to_booking_out(await services.book(service.unit_of_work, principal, body.to_command()))

``endpoint`` names the operation once: its path, method, summary and operation id come from the
``Ops`` entry, its authorization (``auth.authorize``) runs before anything else of the route,
and its error answers are documented with the kit's error body. ``Allowed`` is the principal
that authorization admitted (the request's cached ``CurrentPrincipal``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any, TypeVar, get_args, get_origin

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response
from fastapi.datastructures import Default
from fastapi.dependencies.utils import get_typed_signature
from fastapi.exceptions import RequestValidationError
from fastapi.params import Depends as DependsParam

from vaccinera_contracts.access import Operation
from vaccinera_contracts.roles import Principal
from vaccinera_kit.access_log import AccessLog
from vaccinera_kit.app import Service
from vaccinera_kit.auth import CurrentPrincipal, authorize
from vaccinera_kit.database import Database
from vaccinera_kit.settings import HttpSettings, settings_as
from vaccinera_kit.unit_of_work import UnitOfWorkFactory
from vaccinera_kit.web import error_responses

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])
S = TypeVar("S", bound=HttpSettings)

# Every route may be turned away busy or without its database.
ALWAYS = (503,)
# A route that needs a login: no or a bad token (401), no such assignment or not allowed (403),
# several assignments and none named (400).
AUTHENTICATED = (400, 401, 403)
# A route that takes input (path, query, body) may find it invalid.
WITH_INPUT = (422,)

_NOT_INPUT = (Request, Response, BackgroundTasks)


def endpoint(
    router: APIRouter,
    op: Operation,
    *,
    status_code: int = 200,
    response_model: Any = Default(None),
    errors: Iterable[int] = (),
    **kwargs: Any,
) -> Callable[[F], F]:
    """Register the decorated function as ``op`` on ``router``, authorized as the matrix says.

    ``errors``: the statuses the route answers besides those every route of its kind does
    (401/403/400 unless anonymous, 422 when it takes input, 503). Other keyword arguments go
    to ``APIRouter.add_api_route`` (``tags``, ``responses``, ``description``, …)."""

    def register(func: F) -> F:
        statuses = {*ALWAYS, *errors}
        if not op.anonymous:
            statuses.update(AUTHENTICATED)
        if takes_input(func):
            statuses.update(WITH_INPUT)
        responses = {**error_responses(statuses), **kwargs.pop("responses", {})}
        dependencies = [
            Depends(_authorization(op)),
            Depends(_storable_parameters),
            *kwargs.pop("dependencies", ()),
        ]
        router.add_api_route(
            op.path,
            func,
            methods=[op.method],
            status_code=status_code,
            response_model=response_model,
            summary=op.summary,
            operation_id=op.name,
            responses=responses,
            dependencies=dependencies,
            **kwargs,
        )
        return func

    return register


def takes_input(func: Callable[..., Any]) -> bool:
    """Whether the route's own parameters include input (anything but dependencies and the
    request/response objects)."""
    for param in get_typed_signature(func).parameters.values():
        annotation = param.annotation
        if isinstance(param.default, DependsParam):
            continue
        if get_origin(annotation) is Annotated:
            if any(isinstance(m, DependsParam) for m in get_args(annotation)[1:]):
                continue
            annotation = get_args(annotation)[0]
        if isinstance(annotation, type) and issubclass(annotation, _NOT_INPUT):
            continue
        return True
    return False


def _authorization(op: Operation) -> Callable[..., Awaitable[None]]:
    """The route dependency ``endpoint`` adds: the matrix's check, then the operation noted as
    authorized for this request."""
    if op.anonymous:

        async def anyone(request: Request) -> None:
            request.state.operation = op

        return anyone
    check = authorize(op)

    async def authorized(request: Request, principal: CurrentPrincipal) -> None:
        await check(principal)
        request.state.operation = op

    authorized.__name__ = check.__name__
    return authorized


async def _storable_parameters(request: Request) -> None:
    """A NUL character in a path or query parameter is refused naming the parameter (422), not
    left to the database, which can store no NUL and could not say which input held it."""
    errors = [
        {"loc": (where, name), "msg": "Contains a NUL character.", "type": "invalid_text"}
        for where, params in (("path", request.path_params), ("query", request.query_params))
        for name, value in params.items()
        if isinstance(value, str) and "\x00" in value
    ]
    if errors:
        raise RequestValidationError(errors)


# Dependencies are coroutines: FastAPI runs a plain function dependency in a worker thread,
# and that hop per request was measured in a rush (several per route).


def _operation(request: Request) -> Operation:
    operation: Operation | None = getattr(request.state, "operation", None)
    if operation is None:
        raise RuntimeError("Only a route registered with vaccinera_kit.deps.endpoint is authorized")
    return operation


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def current_operation(request: Request) -> Operation:
    return _operation(request)


async def allowed_principal(request: Request, principal: CurrentPrincipal) -> Principal:
    _operation(request)  # authorized before any parameter of the route is solved
    return principal


# The principal the route's ``endpoint`` authorized, and the operation it was authorized for.
Allowed = Annotated[Principal, Depends(allowed_principal)]
CurrentOperation = Annotated[Operation, Depends(current_operation)]


async def get_service(request: Request) -> Service:
    return _service(request)


async def get_unit_of_work(request: Request) -> UnitOfWorkFactory:
    return _service(request).unit_of_work


async def get_database(request: Request) -> Database:
    return _service(request).db


async def get_access_log(request: Request) -> AccessLog:
    return _service(request).access_log


# The running service, and the parts of it routes use.
ServiceDep = Annotated[Service, Depends(get_service)]
UnitOfWorkDep = Annotated[UnitOfWorkFactory, Depends(get_unit_of_work)]
DatabaseDep = Annotated[Database, Depends(get_database)]
AccessLogDep = Annotated[AccessLog, Depends(get_access_log)]


def settings_of(settings_class: type[S]) -> Callable[[Request], Awaitable[S]]:
    """A dependency giving the service's settings as its own class:

    SettingsDep = Annotated[Settings, Depends(settings_of(Settings))]
    """

    async def get_settings(request: Request) -> S:
        return settings_as(_service(request).settings, settings_class)

    get_settings.__name__ = f"settings_of_{settings_class.__name__}"
    return get_settings
