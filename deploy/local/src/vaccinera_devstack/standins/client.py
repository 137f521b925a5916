"""Test-side handle on a running stand-in: read what it received, make it misbehave."""

from __future__ import annotations

from typing import Any

import httpx

from vaccinera_devstack.standins.recorder import RequestRecord


class StandIn:
    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def received(
        self,
        path: str | None = None,
        *,
        method: str | None = None,
        include_rejected: bool = False,
    ) -> list[RequestRecord]:
        """Requests in arrival order; `path` matches as a prefix. Injected failures are only
        included with include_rejected=True (their records have rejected=True)."""
        params: dict[str, Any] = {"include_rejected": include_rejected}
        if path is not None:
            params["path"] = path
        if method is not None:
            params["method"] = method
        response = self._http.get("/_standin/received", params=params)
        response.raise_for_status()
        records: list[RequestRecord] = response.json()
        return records

    def rejected(self, path: str | None = None) -> list[RequestRecord]:
        return [r for r in self.received(path, include_rejected=True) if r["rejected"]]

    def clear(self) -> None:
        self._http.delete("/_standin/received").raise_for_status()

    def behave(
        self,
        *,
        fail_next: int = 0,
        fail_status: int = 503,
        delay_ms: int = 0,
        validate_fhir: bool = True,
        keep_bodies: bool = True,
    ) -> None:
        """Replace the behaviour: fail the next `fail_next` requests and/or delay every one;
        (benchmarks) skip FHIR validation, keep no bodies."""
        body = {
            "fail_next": fail_next,
            "fail_status": fail_status,
            "delay_ms": delay_ms,
            "validate_fhir": validate_fhir,
            "keep_bodies": keep_bodies,
        }
        self._http.post("/_standin/behaviour", json=body).raise_for_status()

    def reset(self) -> None:
        """Forget all requests and behave normally again (use between tests)."""
        self.clear()
        self.behave()

    def healthy(self) -> bool:
        try:
            return self._http.get("/_standin/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> StandIn:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
