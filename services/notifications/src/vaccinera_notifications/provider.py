"""The SMS provider adapter: ``POST /sms/v1/messages`` with an ``Idempotency-Key``.

The key is the message id, so a message sent again after a crash (the claim expired before
the outcome was recorded) is answered with the first reply instead of becoming a second SMS.
Outcomes say only what happened, never the number or the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Accepted:
    provider_message_id: str


@dataclass(frozen=True)
class Failed:
    reason: str
    # Worth trying again: 5xx, 429, timeouts, connection trouble. A 4xx is not.
    transient: bool


Outcome = Accepted | Failed


class SmsProvider:
    def __init__(self, base_url: str, *, sender: str, timeout: float) -> None:
        self.sender = sender
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            # Enough connections for every send in flight.
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    async def send(
        self,
        *,
        to: str,
        text: str,
        reference: str,
        idempotency_key: str,
        headers: Mapping[str, str] | None = None,
    ) -> Outcome:
        body = {"to": to, "text": text, "sender": self.sender, "reference": reference}
        try:
            response = await self._http.post(
                "/sms/v1/messages",
                json=body,
                headers={**(headers or {}), "Idempotency-Key": idempotency_key},
            )
        except httpx.TimeoutException:
            return Failed("provider timeout", transient=True)
        except httpx.HTTPError as exc:
            return Failed(f"provider unreachable: {type(exc).__name__}", transient=True)
        status = response.status_code
        if 200 <= status < 300:
            try:
                message_id = str(response.json()["message_id"])
            except (ValueError, KeyError, TypeError):
                return Failed(f"provider answered {status} without a message id", transient=True)
            return Accepted(message_id)
        return Failed(f"provider answered {status}", transient=status >= 500 or status == 429)

    async def close(self) -> None:
        await self._http.aclose()
