"""What a stand-in remembers: every domain request, the injected behaviour, idempotent replies."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

# pydantic (FastAPI responses) rejects typing.TypedDict before Python 3.12.
from typing_extensions import TypedDict

# Only headers that tests assert on; credentials are reduced to their scheme.
RECORDED_HEADERS = (
    "idempotency-key",
    "traceparent",
    "tracestate",
    "content-type",
    "x-request-id",
    "x-correlation-id",
)


class RequestRecord(TypedDict):
    time: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    status: int
    # True when an injected failure answered it: the request never reached the endpoint.
    rejected: bool
    # True when an earlier success with the same Idempotency-Key was returned again.
    replayed: bool
    # What the stand-in answered (a FHIR batch-response tells each entry's outcome).
    reply: Any


class Behaviour(BaseModel):
    fail_next: int = Field(default=0, ge=0)
    fail_status: int = Field(default=503, ge=400, le=599)
    delay_ms: int = Field(default=0, ge=0, le=120_000)
    # Off for benchmarks only: a register's own validation and request log are its CPU and
    # memory, not the sender's (bench/registry_export.py says so in its figures).
    validate_fhir: bool = True
    keep_bodies: bool = True


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorder:
    record_file: Path | None = None
    records: list[RequestRecord] = field(default_factory=list)
    behaviour: Behaviour = field(default_factory=Behaviour)
    # (path, Idempotency-Key) -> first successful reply, as a real provider would dedupe.
    replies: dict[tuple[str, str], Reply] = field(default_factory=dict)

    def take_failure(self) -> int | None:
        """The status to fail this request with, consuming one of `fail_next`."""
        if self.behaviour.fail_next <= 0:
            return None
        self.behaviour = self.behaviour.model_copy(
            update={"fail_next": self.behaviour.fail_next - 1}
        )
        return self.behaviour.fail_status

    def add(self, record: RequestRecord) -> None:
        if not self.behaviour.keep_bodies:
            record["body"] = None
            record["reply"] = None
        self.records.append(record)
        if self.record_file is not None:
            with self.record_file.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, default=str) + "\n")

    def select(
        self, path: str | None, method: str | None, include_rejected: bool
    ) -> list[RequestRecord]:
        return [
            record
            for record in self.records
            if (include_rejected or not record["rejected"])
            and (path is None or record["path"].startswith(path))
            and (method is None or record["method"] == method.upper())
        ]

    def clear(self) -> int:
        count = len(self.records)
        self.records.clear()
        self.replies.clear()
        return count
