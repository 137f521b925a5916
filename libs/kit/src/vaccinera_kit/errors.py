"""One error model for every 4xx and 5xx: which field or rule failed, in words a person reads.

Input values are never echoed back (they may be a personnummer or a phone number).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("vaccinera.errors")

# Text PostgreSQL cannot store: a NUL character (22021), or \u0000 inside JSON (22P05). It
# arrives from the client (a path segment "%00", a name) and is the client's error.
_UNSTORABLE_TEXT = frozenset({"22021", "22P05"})


class ErrorDetail(BaseModel):
    field: str | None = None
    rule: str
    message: str


class ErrorBody(BaseModel):
    status: int
    code: str
    message: str
    details: list[ErrorDetail] = []


class DomainError(Exception):
    """A rule said no. Services raise subclasses; the kit maps them to HTTP."""

    status = 422
    code = "rule_violated"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: list[ErrorDetail] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.details = details or []
        self.extra = extra or {}


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class BadRequest(DomainError):
    status = 400
    code = "bad_request"


_CODES = {
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
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return error_response(
            ErrorBody(status=exc.status, code=exc.code, message=exc.message, details=exc.details),
            exc.extra,
        )

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
        code = _CODES.get(exc.status_code, "error")
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


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    cause = orig.__cause__ if orig is not None else None
    state = getattr(orig, "sqlstate", None) or getattr(cause, "sqlstate", None)
    return str(state) if state else None
