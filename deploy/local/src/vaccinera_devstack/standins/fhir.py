"""FHIR R4 Immunization endpoints for the national registers (NVR, NPÖ): a resource that does
not validate as an R4 Immunization is refused with 400 and an OperationOutcome, as the
registers do; a create naming an identifier already held (``If-None-Exist``, FHIR
conditional create) answers with the resource held, creating nothing. ``POST /<kind>/fhir``
takes a ``batch`` Bundle of such creates and answers a ``batch-response`` Bundle, entry by
entry."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from fhir.resources.R4B.immunization import Immunization
from pydantic import ValidationError

from vaccinera_devstack.standins.handling import now_iso, serve
from vaccinera_devstack.standins.recorder import Behaviour, Reply


def _outcome(status: int, code: str, text: str) -> Reply:
    issue = {"severity": "error", "code": code, "diagnostics": text}
    return Reply(status, {"resourceType": "OperationOutcome", "issue": [issue]})


def router(kind: str) -> APIRouter:
    """Routes under /<kind>/fhir; each register keeps its own resources."""
    routes = APIRouter(prefix=f"/{kind}/fhir")
    stored: dict[str, dict[str, Any]] = {}

    by_identifier: dict[str, str] = {}

    def create(body: Any, if_none_exist: str | None, behaviour: Behaviour) -> Reply:
        if not isinstance(body, dict) or body.get("resourceType") != "Immunization":
            return _outcome(400, "invalid", 'expected a resource with resourceType "Immunization"')
        if behaviour.validate_fhir:
            try:
                Immunization.model_validate(body)
            except ValidationError as exc:
                where = "; ".join(
                    ".".join(map(str, e["loc"])) + ": " + e["msg"] for e in exc.errors()
                )
                return _outcome(400, "invalid", f"not a valid FHIR R4 Immunization: {where}")
        held = _held(if_none_exist)
        if held is not None:
            return Reply(200, stored[held])
        resource_id = str(uuid.uuid4())
        resource = {**body, "id": resource_id, "meta": {"versionId": "1", "lastUpdated": now_iso()}}
        stored[resource_id] = resource if behaviour.keep_bodies else {"id": resource_id}
        for identifier in body.get("identifier") or ():
            if isinstance(identifier, dict):
                by_identifier[f"{identifier.get('system')}|{identifier.get('value')}"] = resource_id
        location = f"/{kind}/fhir/Immunization/{resource_id}/_history/1"
        return Reply(201, resource, {"Location": location})

    def _held(if_none_exist: str | None) -> str | None:
        if not if_none_exist or not if_none_exist.startswith("identifier="):
            return None
        return by_identifier.get(if_none_exist.removeprefix("identifier="))

    @routes.post("/Immunization")
    async def post_immunization(request: Request) -> Response:
        condition = request.headers.get("if-none-exist")
        behaviour = request.app.state.recorder.behaviour
        return await serve(request, lambda body: create(body, condition, behaviour))

    def batch(body: Any, behaviour: Behaviour) -> Reply:
        if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
            return _outcome(400, "invalid", 'expected a resource with resourceType "Bundle"')
        if body.get("type") != "batch":
            return _outcome(400, "not-supported", 'only Bundle.type "batch" is taken')
        answers = []
        for entry in body.get("entry") or ():
            request = entry.get("request") if isinstance(entry, dict) else None
            if not isinstance(request, dict) or request.get("method") != "POST":
                reply = _outcome(400, "invalid", "each entry is a POST of an Immunization")
            else:
                reply = create(entry.get("resource"), request.get("ifNoneExist"), behaviour)
            response: dict[str, Any] = {"status": f"{reply.status}"}
            if reply.status < 300:
                response["location"] = f"Immunization/{reply.body['id']}/_history/1"
            else:
                response["outcome"] = reply.body
            answers.append({"response": response})
        return Reply(200, {"resourceType": "Bundle", "type": "batch-response", "entry": answers})

    @routes.post("")
    async def post_bundle(request: Request) -> Response:
        behaviour = request.app.state.recorder.behaviour
        return await serve(request, lambda body: batch(body, behaviour))

    @routes.get("/Immunization/{resource_id}")
    async def get_immunization(request: Request, resource_id: str) -> Response:
        def read(_: Any) -> Reply:
            resource = stored.get(resource_id)
            if resource is None:
                return _outcome(404, "not-found", f"Immunization/{resource_id} is unknown")
            return Reply(200, resource)

        return await serve(request, read)

    return routes
