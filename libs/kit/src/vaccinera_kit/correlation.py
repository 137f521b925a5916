"""Correlation and causation ids of the work in progress, carried into every event staged."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Causality:
    correlation_id: str
    causation_id: str | None = None


_current: ContextVar[Causality | None] = ContextVar("vaccinera_causality", default=None)


def current() -> Causality:
    """The causality of the running request or event handler; a fresh one outside both."""
    return _current.get() or Causality(correlation_id=str(uuid.uuid4()))


@contextmanager
def causality(correlation_id: str, causation_id: str | None = None) -> Iterator[Causality]:
    value = Causality(correlation_id=correlation_id, causation_id=causation_id)
    token = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(token)
