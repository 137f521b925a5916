"""SMS provider stand-in: accepts messages and reports every one as delivered."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, ValidationError

from vaccinera_devstack.standins.handling import serve
from vaccinera_devstack.standins.recorder import Reply


class SmsMessage(BaseModel):
    to: str = Field(pattern=r"^\+[1-9][0-9]{6,14}$")  # E.164
    text: str = Field(min_length=1)
    sender: str | None = None
    reference: str | None = None


def router() -> APIRouter:
    routes = APIRouter(prefix="/sms/v1")
    accepted: dict[str, SmsMessage] = {}

    def send(body: Any) -> Reply:
        try:
            message = SmsMessage.model_validate(body)
        except ValidationError as exc:
            return Reply(422, {"detail": json.loads(exc.json(include_url=False))})
        message_id = str(uuid.uuid4())
        accepted[message_id] = message
        return Reply(202, {"message_id": message_id, "status": "accepted"})

    @routes.post("/messages")
    async def post_message(request: Request) -> Response:
        return await serve(request, send)

    @routes.get("/messages/{message_id}")
    async def get_message(request: Request, message_id: str) -> Response:
        def lookup(_: Any) -> Reply:
            message = accepted.get(message_id)
            if message is None:
                return Reply(404, {"error": "unknown message_id"})
            # The stand-in delivers instantly; real providers report asynchronously.
            return Reply(
                200,
                {"message_id": message_id, "status": "delivered", "reference": message.reference},
            )

        return await serve(request, lookup)

    return routes
