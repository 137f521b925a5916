"""The domain's errors and the one error body every 4xx and 5xx carries.

Plain exceptions, free of any web framework: a rule that says no raises one of these, and the
web layer (``vaccinera_kit.web``) turns it into an HTTP answer with ``status`` as the hint.
The body names the field or rule that failed, in words a person reads; input values are never
echoed back (they may be a personnummer or a phone number).
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    field: str | None = Field(default=None, description="The input that failed, dotted.")
    rule: str = Field(description="The rule it broke, e.g. missing, too_long, in_future.")
    message: str


class ErrorBody(BaseModel):
    """Every error answer of every service: the status again, a stable code, and why."""

    status: int
    code: str = Field(description="Stable, for programs: e.g. not_found, slot_taken.")
    message: str = Field(description="For people.")
    details: list[ErrorDetail] = []


class DomainError(Exception):
    """A rule said no. ``status`` is the HTTP status the web layer answers with."""

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
        # More top-level fields of the body (e.g. the next free times beside a 409).
        self.extra = extra or {}
        # HTTP headers of the answer (e.g. Retry-After beside a 429).
        self.headers: dict[str, str] = {}

    def body(self) -> ErrorBody:
        return ErrorBody(
            status=self.status, code=self.code, message=self.message, details=self.details
        )


class BadRequest(DomainError):
    status = 400
    code = "bad_request"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class TooManyRequests(DomainError):
    """Too many attempts: the answer says when to try again (``Retry-After``, in seconds, and
    ``retry_after_seconds`` in the body)."""

    status = 429
    code = "too_many_requests"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        code: str | None = None,
        details: list[ErrorDetail] | None = None,
    ) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            message, code=code, details=details, extra={"retry_after_seconds": seconds}
        )
        self.retry_after = seconds
        self.headers["Retry-After"] = str(seconds)


class Unavailable(DomainError):
    """Nothing was changed; try again shortly."""

    status = 503
    code = "unavailable"


def invalid(field: str, rule: str, message: str, *, code: str = "invalid_input") -> DomainError:
    """A 422 naming one field and the rule it broke."""
    return DomainError(
        message, code=code, details=[ErrorDetail(field=field, rule=rule, message=message)]
    )
