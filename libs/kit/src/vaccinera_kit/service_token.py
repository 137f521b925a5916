"""A service's own access token, for calls made by the service itself rather than for a person
(issue 9: the SMS sender asking identity where to send). OAuth 2.0 client credentials (RFC 6749
section 4.4): the client id is the service's name, the secret is read from a file; the token is
asked for when first needed, kept, and asked for again shortly before it expires or when a
callee turns it down (``invalidate``)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx


class ServiceTokenError(Exception):
    """No token could be had (the provider is down or refused the client)."""


class ServiceToken:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        token_url: str,
        client_id: str,
        secret_file: Path,
        renew_before: float = 60.0,
    ) -> None:
        self.http = http
        self.token_url = token_url
        self.client_id = client_id
        self.secret_file = secret_file
        self.renew_before = renew_before
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def authorization(self) -> str:
        """``Bearer <token>``, fetching a new token if none is held or it is about to expire."""
        if self._token is None or time.monotonic() >= self._expires - self.renew_before:
            async with self._lock:  # one request for a token at a time
                if self._token is None or time.monotonic() >= self._expires - self.renew_before:
                    await self._fetch()
        return f"Bearer {self._token}"

    def invalidate(self) -> None:
        self._token = None

    async def _fetch(self) -> None:
        secret = self.secret_file.read_text().strip()
        try:
            r = await self.http.post(
                self.token_url,
                data={"grant_type": "client_credentials"},
                auth=(self.client_id, secret),
            )
        except httpx.HTTPError as exc:
            raise ServiceTokenError(f"token endpoint unreachable: {type(exc).__name__}") from exc
        if r.status_code != 200:
            raise ServiceTokenError(f"token endpoint answered {r.status_code}")
        body = r.json()
        self._token = str(body["access_token"])
        self._expires = time.monotonic() + float(body.get("expires_in", 300))
