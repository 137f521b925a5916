"""Gateway rules, free of I/O: which headers cross, and how service OpenAPI documents merge."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import quote

# Headers that describe one hop, not the message (RFC 9110 section 7.6.1), plus Host.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        # The client hands over decoded bodies, so an upstream encoding no longer applies.
        "content-encoding",
    }
)
# Headers the gateway's edge answers with itself (security headers, CORS): a service's own
# copy is not relayed, so each is sent once and the gateway's word holds (a service cannot
# open CORS, for instance).
OWNED_HEADERS = frozenset(
    {
        "cache-control",
        "content-security-policy",
        "referrer-policy",
        "strict-transport-security",
        "x-content-type-options",
        "x-frame-options",
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-expose-headers",
        "access-control-max-age",
    }
)

_NOT_RELAYED_RAW = frozenset(h.encode("latin-1") for h in HOP_BY_HOP | OWNED_HEADERS)

# In a request target as they are: RFC 3986's unreserved and reserved characters except "#",
# and "%" where it starts an escape. Anything else is percent-encoded; control characters are
# refused.
_NOT_AS_IS = re.compile(r"[^A-Za-z0-9\-._~!$&'()*+,/:;=?@\[\]%]|%(?![0-9A-Fa-f]{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def upstream_path(scope: Mapping[str, Any], service: str, path: str) -> str:
    """The path and query to request from the service, still percent-encoded as received, so
    an encoded character is passed on as it came instead of being decoded into the URL."""
    raw = bytes(scope.get("raw_path") or b"").decode("latin-1")
    prefix = f"/api/{service}"
    rest = raw[len(prefix) :] if raw.startswith(prefix + "/") else "/" + quote(path)
    query = bytes(scope.get("query_string") or b"").decode("latin-1")
    return f"{rest}?{query}" if query else rest


def request_target(target: str) -> str:
    """``target`` (from :func:`upstream_path`) fit for a request line: escapes kept as they
    came, any other character outside the URL syntax percent-encoded (a character up to U+00FF
    stands for the byte received). ValueError for a control character."""
    if _NOT_AS_IS.search(target) is None:
        return target  # the usual case, no copy
    if _CONTROL.search(target) is not None:
        raise ValueError("control character in the address")
    return _NOT_AS_IS.sub(_escape, target)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    raw = char.encode("latin-1") if ord(char) < 0x100 else char.encode("utf-8")
    return "".join(f"%{b:02X}" for b in raw)


FORWARDED_FOR = "x-forwarded-for"


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: Callable[[str], bool] | None
) -> str | None:
    """The caller's address, as the gateway tells the services in X-Forwarded-For (they limit
    anonymous attempts by it, BK-2): the connection's peer; when that is a trusted proxy, the
    nearest address in X-Forwarded-For that is not one. Read from the right: each trusted proxy
    appended the address it saw, and what the client wrote itself comes first and is never
    believed."""
    client = peer
    if client is None or trusted is None or not forwarded_for:
        return client
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    while hops and trusted(client):
        hop = hops.pop()
        if not hop:
            break
        client = hop
    return client


def forwardable(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}


def forwardable_raw(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """A service's answer headers as the gateway passes them on: every occurrence kept (two
    ``Set-Cookie`` stay two), names in lower case as ASGI has them, hop-by-hop ones and those
    the gateway sets itself dropped."""
    out = []
    for name, value in headers:
        lower = name.lower()
        if lower not in _NOT_RELAYED_RAW:
            out.append((lower, value))
    return out


def _prefix_refs(node: Any, prefix: str) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                name = value.rsplit("/", 1)[-1]
                base = value.rsplit("/", 1)[0]
                out[key] = f"{base}/{prefix}{name}"
            else:
                out[key] = _prefix_refs(value, prefix)
        return out
    if isinstance(node, list):
        return [_prefix_refs(v, prefix) for v in node]
    return node


def merge_openapi(
    title: str, version: str, documents: Mapping[str, dict[str, Any] | None]
) -> dict[str, Any]:
    """One OpenAPI document for all services, each under ``/api/<service>``.

    Component names get the service as prefix (``booking__Slot``) so two services may both
    have a ``Patient`` schema without clashing; operation ids and tags likewise.
    """
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "All Vaccinera services behind the gateway. Authorize with a bearer "
            "token from the identity provider; staff name their assignment in "
            "X-Vaccinera-Assignment.",
        },
        "paths": {},
        "components": {
            "schemas": {},
            "securitySchemes": {},
        },
        "tags": [],
    }
    unavailable = []
    for service, doc in sorted(documents.items()):
        if doc is None:
            unavailable.append(service)
            continue
        prefix = f"{service.replace('-', '_')}__"
        doc = _prefix_refs(copy.deepcopy(doc), prefix)
        too_large = _too_large_response(doc, prefix)
        for path, item in doc.get("paths", {}).items():
            if path in ("/metrics",):
                continue
            for operation in item.values():
                if not isinstance(operation, dict):
                    continue
                if "operationId" in operation:
                    operation["operationId"] = f"{prefix}{operation['operationId']}"
                operation["tags"] = [f"{service}: {t}" for t in operation.get("tags", ["other"])]
                if "requestBody" in operation:
                    # The gateway's own answer to a body over its limit (edge.py).
                    operation.setdefault("responses", {}).setdefault("413", too_large)
            merged["paths"][f"/api/{service}{path}"] = item
        components = doc.get("components", {})
        for name, schema in components.get("schemas", {}).items():
            merged["components"]["schemas"][f"{prefix}{name}"] = schema
        # Security schemes are shared (the same bearer token): keep their own names.
        merged["components"]["securitySchemes"].update(components.get("securitySchemes", {}))
        merged["tags"].append(
            {"name": service, "description": doc.get("info", {}).get("description", "")}
        )
    if unavailable:
        merged["info"]["description"] += (
            " Not reachable while building this page: " + ", ".join(unavailable) + "."
        )
    return merged


def _too_large_response(doc: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The 413 entry of an operation taking a body, with the service's error body schema."""
    schemas = doc.get("components", {}).get("schemas", {})
    schema: dict[str, Any] = (
        {"$ref": f"#/components/schemas/{prefix}ErrorBody"}
        if "ErrorBody" in schemas
        else {"type": "object"}
    )
    return {
        "description": "The request body is larger than the gateway accepts.",
        "content": {"application/json": {"schema": schema}},
    }
