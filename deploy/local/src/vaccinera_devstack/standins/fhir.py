"""FHIR R4 Immunization endpoints for the national registers (NVR, NPÖ)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from vaccinera_devstack.standins.handling import now_iso, serve
from vaccinera_devstack.standins.recorder import Reply


def _outcome(status: int, code: str, text: str) -> Reply:
    issue = {"severity": "error", "code": code, "diagnostics": text}
    return Reply(status, {"resourceType": "OperationOutcome", "issue": [issue]})


def router(kind: str) -> APIRouter:
    """Routes under /<kind>/fhir; each register keeps its own resources."""
    routes = APIRouter(prefix=f"/{kind}/fhir")
    stored: dict[str, dict[str, Any]] = {}

    def create(body: Any) -> Reply:
        if not isinstance(body, dict) or body.get("resourceType") != "Immunization":
            return _outcome(422, "invalid", 'expected a resource with resourceType "Immunization"')
        resource_id = str(uuid.uuid4())
        resource = {**body, "id": resource_id, "meta": {"versionId": "1", "lastUpdated": now_iso()}}
        stored[resource_id] = resource
        location = f"/{kind}/fhir/Immunization/{resource_id}/_history/1"
        return Reply(201, resource, {"Location": location})

    @routes.post("/Immunization")
    async def post_immunization(request: Request) -> Response:
        return await serve(request, create)

    @routes.get("/Immunization/{resource_id}")
    async def get_immunization(request: Request, resource_id: str) -> Response:
        def read(_: Any) -> Reply:
            resource = stored.get(resource_id)
            if resource is None:
                return _outcome(404, "not-found", f"Immunization/{resource_id} is unknown")
            return Reply(200, resource)

        return await serve(request, read)

    return routes
