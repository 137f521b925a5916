"""The gateway's edge, around every request: security headers on every answer, the request body
size limit, and CORS (closed unless origins are configured).

One pure ASGI middleware, outside everything else (the 500 page too), because it runs on every
request of a booking rush: the headers are built once, at start, as the raw pairs ASGI sends;
per request it reads the request headers once and picks one of the prepared lists.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vaccinera_kit.errors import DomainError, ErrorBody
from vaccinera_kit.web import error_response

Headers = list[tuple[bytes, bytes]]

# What a browser page may send and read across origins (when CORS is configured).
CORS_METHODS = "GET, POST, PUT, PATCH, DELETE"
CORS_REQUEST_HEADERS = (
    "Authorization, Content-Type, Idempotency-Key, X-Vaccinera-Assignment, X-Correlation-ID, "
    "traceparent, tracestate"
)
CORS_EXPOSED_HEADERS = "Retry-After, X-Correlation-ID, WWW-Authenticate"

# The request headers the edge reads.
_READ = frozenset(
    {b"content-length", b"origin", b"x-forwarded-proto", b"access-control-request-method"}
)


class ContentTooLarge(DomainError):
    status = 413
    code = "payload_too_large"


def too_large(limit: int) -> ContentTooLarge:
    return ContentTooLarge(
        f"The request body is larger than {limit} bytes, the most the gateway accepts."
    )


@dataclass(frozen=True)
class EdgePolicy:
    """What the edge does, from the settings; ``page_policies`` gives a path (``/docs``) a
    Content-Security-Policy of its own instead of ``content_security_policy``."""

    max_body_bytes: int
    content_security_policy: str
    strict_transport_security: str
    cors_origins: tuple[str, ...] = ()
    cors_allow_credentials: bool = False
    cors_max_age: int = 600
    trusted_proxies: tuple[str, ...] = ()
    page_policies: dict[str, str] = field(default_factory=dict)


def security_headers(csp: str, hsts: str | None) -> Headers:
    headers = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"content-security-policy", csp.encode("latin-1")),
        # Patient data must not be kept by a browser or a shared cache.
        (b"cache-control", b"no-store"),
    ]
    if hsts is not None:
        headers.append((b"strict-transport-security", hsts.encode("latin-1")))
    return headers


def proxy_check(networks: Iterable[str]) -> Callable[[str], bool]:
    """``trusted(host) -> bool``: whether a peer address is one of the trusted proxies."""
    nets = tuple(ipaddress.ip_network(n) for n in networks)

    @lru_cache(maxsize=1024)
    def trusted(host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in net for net in nets)

    return trusted


class Edge:
    """Pure ASGI middleware carrying out an :class:`EdgePolicy`."""

    def __init__(self, app: ASGIApp, policy: EdgePolicy) -> None:
        self.app = app
        self.limit = policy.max_body_bytes
        # (plain, over TLS) header lists: the default and one per page with its own CSP.
        csp, hsts = policy.content_security_policy, policy.strict_transport_security
        self.default = (security_headers(csp, None), security_headers(csp, hsts))
        self.pages = {
            path: (security_headers(page_csp, None), security_headers(page_csp, hsts))
            for path, page_csp in policy.page_policies.items()
        }
        self.trusted = proxy_check(policy.trusted_proxies) if policy.trusted_proxies else None
        origins = {o.encode("latin-1") for o in policy.cors_origins}
        self.cors_any = b"*" in origins
        self.cors_origins = frozenset(origins - {b"*"})
        self.cors = bool(origins)
        self.cors_credentials = policy.cors_allow_credentials
        self.cors_preflight: Headers = [
            (b"access-control-allow-methods", CORS_METHODS.encode()),
            (b"access-control-allow-headers", CORS_REQUEST_HEADERS.encode()),
            (b"access-control-max-age", str(policy.cors_max_age).encode()),
        ]
        self.cors_exposed = (b"access-control-expose-headers", CORS_EXPOSED_HEADERS.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = forwarded_proto = origin = preflight = None
        for name, value in scope["headers"]:
            if name in _READ:  # one set look-up for the usual header, read by no one here
                if name == b"content-length":
                    length = value
                elif name == b"origin":
                    origin = value
                elif name == b"x-forwarded-proto":
                    forwarded_proto = value
                else:
                    preflight = value

        tls = scope["scheme"] == "https"
        if not tls and forwarded_proto is not None and self.trusted is not None:
            client = scope.get("client")
            if client and self.trusted(client[0]):
                # The value the nearest proxy (the trusted one) added comes last.
                tls = forwarded_proto.rsplit(b",", 1)[-1].strip().lower() == b"https"
        headers = self.pages.get(scope["path"], self.default)[tls]

        if origin is not None and self.cors:
            allowed = self._cors(origin)
            if allowed is not None:
                if preflight is not None and scope["method"] == "OPTIONS":
                    await _answer(send, 204, [*headers, *allowed, *self.cors_preflight])
                    return
                headers = [*headers, *allowed, self.cors_exposed]
            # Any other origin gets no CORS header: the browser keeps the answer from its page
            # (and a preflight goes on to the routes, which have no OPTIONS: 405).

        limit = self.limit
        if length is not None and _too_long(length, limit):
            # Refused before a byte of the body is read; the client may stop sending.
            await _error(scope, receive, send, too_large(limit), headers)
            return

        received = 0
        refused = False

        async def receive_limited() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # chunked, or a body longer than it said
                    refused = True
                    raise too_large(limit)
            return message

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
                if refused:
                    message["headers"].append((b"connection", b"close"))
            await send(message)

        await self.app(scope, receive_limited, send_secured)

    def _cors(self, origin: bytes) -> Headers | None:
        """The CORS headers for a request from ``origin``, None when it may not."""
        if origin in self.cors_origins:
            allowed = [(b"access-control-allow-origin", origin), (b"vary", b"Origin")]
            if self.cors_credentials:
                allowed.append((b"access-control-allow-credentials", b"true"))
            return allowed
        if self.cors_any:
            return [(b"access-control-allow-origin", b"*")]
        return None


def _too_long(length: bytes, limit: int) -> bool:
    try:
        return int(length) > limit
    except ValueError:
        return False  # the server refuses a malformed Content-Length itself


async def _answer(send: Send, status: int, headers: Headers) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _error(
    scope: Scope, receive: Receive, send: Send, error: DomainError, headers: Headers
) -> None:
    body: ErrorBody = error.body()
    response = error_response(body)
    response.raw_headers.extend(headers)
    response.raw_headers.append((b"connection", b"close"))
    await response(scope, receive, send)
