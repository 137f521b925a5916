"""The one event envelope every service publishes and consumes (DESIGN "Events")."""

from __future__ import annotations

import builtins
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class DomainEvent(BaseModel):
    """Base of every event payload. Subclasses name their type, version and topic."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    event_version: ClassVar[int] = 1
    topic: ClassVar[str]

    def aggregate_key(self) -> str:
        """Kafka key: the aggregate id, so one aggregate's events keep their order."""
        raise NotImplementedError


E = TypeVar("E", bound=DomainEvent)


class EventEnvelope(BaseModel):
    """What travels on Kafka. ``data`` stays a plain dict until a consumer picks its model."""

    model_config = ConfigDict(extra="forbid")

    event_id: uuid.UUID
    type: str = Field(min_length=1)
    version: int = Field(ge=1)
    occurred_at: datetime
    producer: str = Field(min_length=1)
    correlation_id: str = Field(min_length=1)
    causation_id: str | None = None
    data: dict[str, Any]

    def payload(self, model: builtins.type[E]) -> E:
        return model.model_validate(self.data)


class TypedEnvelope(BaseModel, Generic[E]):
    """An envelope whose ``data`` has been validated into its event model."""

    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID
    type: str
    version: int
    occurred_at: datetime
    producer: str
    correlation_id: str
    causation_id: str | None
    data: E


def new_envelope(
    event: DomainEvent,
    *,
    producer: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> EventEnvelope:
    event_id = uuid.uuid4()
    return EventEnvelope(
        event_id=event_id,
        type=event.event_type,
        version=event.event_version,
        occurred_at=datetime.now(UTC),
        producer=producer,
        correlation_id=correlation_id or str(event_id),
        causation_id=causation_id,
        data=event.model_dump(mode="json"),
    )
