"""Identity's HTTP API: thin routes mapping requests onto domain and store."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from vaccinera_contracts.identifiers import IdentifierError, IdentifierKind, parse_identifier
from vaccinera_contracts.roles import Principal
from vaccinera_identity import domain
from vaccinera_identity.store import PatientStore
from vaccinera_kit.auth import require_staff
from vaccinera_kit.errors import DomainError, ErrorDetail, NotFound

router = APIRouter(prefix="/patients", tags=["patients"])
routers = (router,)

Staff = Annotated[Principal, Depends(require_staff())]


def get_store(request: Request) -> PatientStore:
    service = request.app.state.service
    return PatientStore(service.db, service.outbox)


Store = Annotated[PatientStore, Depends(get_store)]


class RegisterPatient(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identifier: str = Field(
        min_length=1,
        max_length=20,
        description="Personnummer or samordningsnummer (10 or 12 digits, with or without "
        "- or +), or a reserve number in the region's format.",
        examples=["19121212-1212"],
    )


class PatientOut(BaseModel):
    patient_id: str
    identifier_kind: IdentifierKind
    identifier: str
    protected: bool
    registered_at: datetime


def _out(patient: domain.Patient) -> PatientOut:
    return PatientOut(
        patient_id=patient.patient_id,
        identifier_kind=patient.identifier.kind,
        identifier=patient.identifier.value,
        protected=patient.protected,
        registered_at=patient.registered_at,
    )


@router.post(
    "",
    response_model=PatientOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a patient ('Lägg till ny kund')",
    responses={200: {"description": "Already known: the existing patient", "model": PatientOut}},
)
async def register_patient(
    body: RegisterPatient, _: Staff, store: Store, response: Response
) -> PatientOut:
    try:
        identifier = parse_identifier(body.identifier)
    except IdentifierError as exc:
        raise DomainError(
            exc.message,
            code="invalid_identifier",
            details=[ErrorDetail(field="identifier", rule=exc.rule, message=exc.message)],
        ) from exc
    created = await store.add(domain.register_patient(identifier))
    if created is not None:
        return _out(created)
    existing = await store.by_identifier(identifier)
    if existing is None:  # pragma: no cover - the unique index just said it exists
        raise NotFound("Patient vanished while being registered; try again.")
    response.status_code = status.HTTP_200_OK
    return _out(existing)


@router.get("/{patient_id}", response_model=PatientOut, summary="A patient by internal id")
async def get_patient(patient_id: str, _: Staff, store: Store) -> PatientOut:
    patient = await store.get(patient_id)
    if patient is None:
        raise NotFound(f"No patient with id {patient_id}.")
    return _out(patient)
