"""The HTTP face of the errors: domain errors, invalid input, framework and database errors all
answer with one body (``ErrorBody``), and the OpenAPI document says so.

FastAPI's own answer to invalid input is ``{"detail": [...]}`` (``HTTPValidationError``); here
it is ``{status, code, message, details}`` like every other error, so the generated document is
corrected to match (``install_error_handlers`` does both).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from vaccinera_kit.errors import DomainError, ErrorBody, ErrorDetail

log = logging.getLogger("vaccinera.errors")

# Text PostgreSQL cannot store: a NUL character (22021), or \u0000 inside JSON (22P05). It
# arrives from the client (a path segment "%00", a name) and is the client's error.
_UNSTORABLE_TEXT = frozenset({"22021", "22P05"})

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "unavailable",
}

_DESCRIPTIONS = {
    400: "Bad request: e.g. several assignments and none named in X-Vaccinera-Assignment.",
    401: "Not logged in: the bearer token is missing, invalid or expired.",
    403: "Not allowed: the active assignment's role, or not the caller's own data or unit.",
    404: "Not found.",
    409: "Conflict with the current state: taken, changed meanwhile, or already done.",
    422: "Invalid input, or a rule said no: the details name each field and rule.",
    429: "Too many attempts: wait before trying again.",
    503: "Busy or the database is unreachable: nothing was changed; retry after Retry-After.",
}

# OpenAPI ``responses`` entries, one per status a route can answer with the kit's error body.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in _DESCRIPTIONS.items()
}
# Any other failure (500) carries the same body. Listing it as "default" also keeps FastAPI
# from adding its own 422 answer, which it describes with another body.
UNEXPECTED_RESPONSE: dict[str, Any] = {
    "model": ErrorBody,
    "description": "Something went wrong on the service's side (500): the same error body.",
}


def error_responses(statuses: Iterable[int]) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route answering ``statuses`` (and, as any route may, 500)."""
    chosen: dict[int | str, dict[str, Any]] = {s: ERROR_RESPONSES[s] for s in sorted(set(statuses))}
    chosen["default"] = UNEXPECTED_RESPONSE
    return chosen


def error_response(
    body: ErrorBody, extra: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    content = body.model_dump()
    if extra:
        content.update(extra)
    headers = dict(headers or {})
    if body.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(status_code=body.status, content=content, headers=headers or None)


def validation_details(errors: Any) -> list[ErrorDetail]:
    details = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)] or ["body"]
        details.append(
            ErrorDetail(
                field=".".join(loc), rule=str(err.get("type", "invalid")), message=err["msg"]
            )
        )
    return details


def install_error_handlers(app: FastAPI) -> None:
    """Every error of ``app`` answers with ``ErrorBody``, and its OpenAPI document says so."""

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return error_response(exc.body(), exc.extra, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = validation_details(exc.errors())
        fields = ", ".join(d.field or "?" for d in details)
        return error_response(
            ErrorBody(
                status=422,
                code="validation_error",
                message=f"Invalid input: {fields}.",
                details=details,
            )
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = CODES.get(exc.status_code, "error")
        return error_response(ErrorBody(status=exc.status_code, code=code, message=str(exc.detail)))

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if _sqlstate(exc) in _UNSTORABLE_TEXT:
            return error_response(
                ErrorBody(
                    status=422,
                    code="invalid_text",
                    message="The input contains a character that cannot be stored, such as a "
                    "NUL character.",
                )
            )
        if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
            # The database went away (restart, failover): the transaction rolled back.
            log.warning("database unavailable: %s", type(exc).__name__)
            return error_response(
                ErrorBody(
                    status=503,
                    code="database_unavailable",
                    message="The service cannot reach its database right now. Nothing was "
                    "changed; try again shortly.",
                ),
                headers={"Retry-After": "2"},
            )
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error: %s", type(exc).__name__)
        return error_response(
            ErrorBody(
                status=500, code="internal_error", message="Something went wrong on our side."
            )
        )

    document_error_body(app)


def document_error_body(app: FastAPI) -> None:
    """Generate ``app``'s OpenAPI document with ``ErrorBody`` wherever FastAPI would promise
    its ``HTTPValidationError`` (routes not made with ``deps.endpoint``)."""

    generate = app.openapi

    def openapi() -> dict[str, Any]:
        # FastAPI keeps the document it generated; correcting it again changes nothing.
        return with_error_body(generate())

    app.openapi = openapi  # type: ignore[method-assign]


_FASTAPI_BODY = "#/components/schemas/HTTPValidationError"
_ERROR_BODY = "#/components/schemas/ErrorBody"


def with_error_body(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with FastAPI's validation error body replaced by the kit's."""
    replaced = False
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for response in operation.get("responses", {}).values():
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if schema == {"$ref": _FASTAPI_BODY}:
                    schema["$ref"] = _ERROR_BODY
                    response["description"] = _DESCRIPTIONS[422]
                    replaced = True
    schemas = document.get("components", {}).get("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    if replaced and "ErrorBody" not in schemas:
        generated = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(generated.pop("$defs", {}))
        schemas["ErrorBody"] = generated
    return document


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    cause = orig.__cause__ if orig is not None else None
    state = getattr(orig, "sqlstate", None) or getattr(cause, "sqlstate", None)
    return str(state) if state else None
