"""Identity's repositories over one unit of work (SQLAlchemy Core on PostgreSQL).

A patient is one row; a change writes the row and stages its events in the same transaction
(transactional outbox), with optimistic concurrency on ``version``. The access log is
append-only. The hot queries are built by the module-level functions, which the EXPLAIN test
checks exactly as they run here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Insert, Row, Select, Text, Update, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.events import (
    AccessRecorded,
    Block,
    BlocksChanged,
    Consent,
    ConsentsChanged,
    ContactDetailsChanged,
    IdentifierChanged,
    PatientRegistered,
    PopulationCounted,
    ProtectionChanged,
)
from vaccinera_contracts.identifiers import IdentifierKind, PatientIdentifier
from vaccinera_identity.domain import Contact, Patient, PostalAddress
from vaccinera_identity.tables import access_log, patients, reserve_numbers
from vaccinera_kit.database import is_unique_violation
from vaccinera_kit.errors import Conflict
from vaccinera_kit.unit_of_work import UnitOfWork

PUBLISHES: tuple[type[DomainEvent], ...] = (
    PatientRegistered,
    IdentifierChanged,
    ProtectionChanged,
    ContactDetailsChanged,
    BlocksChanged,
    ConsentsChanged,
    # The register's counts (RX-4), staged by ``population_store`` when it loads the register.
    PopulationCounted,
)

IDENTIFIER_INDEX = "uq_patients_identifier_value"


# The hot queries (issue 7: each served by an index; see tests/test_hot_queries.py).
def patient_by_id(patient_id: str) -> Select[Any]:
    return select(patients).where(patients.c.patient_id == patient_id)


def patient_by_identifier(value: str) -> Select[Any]:
    return select(patients).where(patients.c.identifier_value == value)


def access_log_for_patient(patient_id: str, limit: int) -> Select[Any]:
    return (
        select(access_log)
        .where(access_log.c.patient_id == patient_id)
        .order_by(access_log.c.at.desc())
        .limit(limit)
    )


# Where the SMS sender may text a claimed batch of patients: one statement, by primary key.
SMS_CONTACTS = select(patients.c.patient_id, patients.c.protected, patients.c.mobile).where(
    patients.c.patient_id == func.any(bindparam("ids", type_=ARRAY(Text)))
)


async def sms_contacts(
    conn: AsyncConnection, patient_ids: Sequence[str]
) -> dict[str, tuple[bool, str | None]]:
    """(protected, mobile) of each of ``patient_ids`` identity knows."""
    rows = await conn.execute(SMS_CONTACTS, {"ids": list(patient_ids)})
    return {r.patient_id: (r.protected, r.mobile) for r in rows}


def insert_patient(patient: Patient) -> Insert:
    """Insert unless the identifier is taken (then no row comes back and nothing is written)."""
    return (
        insert(patients)
        .values(patient_id=patient.patient_id, **_state(patient), version=1)
        .on_conflict_do_nothing(index_elements=[patients.c.identifier_value])
        .returning(patients.c.patient_id)
    )


def update_patient(patient: Patient) -> Update:
    """The whole state, if the row is still at the version the caller read."""
    return (
        patients.update()
        .where(patients.c.patient_id == patient.patient_id)
        .where(patients.c.version == patient.version)
        .values(**_state(patient), version=patient.version + 1)
    )


class PatientStore:
    """Patients in one unit of work: changes and their events commit together or not at all."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.conn = uow.conn

    async def add(self, patient: Patient, extra_events: Sequence[DomainEvent] = ()) -> bool:
        """Insert a new patient with its events; False (and nothing staged) if the identifier
        is already a patient's."""
        inserted = await self.conn.scalar(insert_patient(patient))
        if inserted is None:
            return False
        self.uow.publish(*patient.events, *extra_events)
        patient.version, patient.events = 1, []
        return True

    async def save(self, patient: Patient, extra_events: Sequence[DomainEvent] = ()) -> None:
        """Write the changed state and stage its events, if nobody changed the patient
        meanwhile. A protection change clears the contact columns in this same statement."""
        try:
            result = await self.conn.execute(update_patient(patient))
        except IntegrityError as exc:
            if not is_unique_violation(exc, IDENTIFIER_INDEX):
                raise
            raise Conflict(
                "Another patient already has this identifier.", code="identifier_taken"
            ) from exc
        if result.rowcount == 0:
            raise Conflict(
                "The patient was changed by someone else meanwhile. Reload and try again.",
                code="concurrent_change",
            )
        self.uow.publish(*patient.events, *extra_events)
        patient.version += 1
        patient.events = []

    async def get(self, patient_id: str) -> Patient | None:
        row = (await self.conn.execute(patient_by_id(patient_id))).one_or_none()
        return _patient(row) if row else None

    async def by_identifier(self, value: str) -> Patient | None:
        return await find_by_identifier(self.conn, value)

    async def next_reserve_sequence(self) -> int:
        result = await self.conn.execute(reserve_numbers.next_value().select())
        return int(result.scalar_one())


async def find_by_identifier(conn: AsyncConnection, value: str) -> Patient | None:
    """For a read outside any unit of work (a plain connection will do)."""
    row = (await conn.execute(patient_by_identifier(value))).one_or_none()
    return _patient(row) if row else None


class AccessLogStore:
    """Append-only: entries are inserted once (keyed by event id) and never changed (ID-7)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def append(self, event_id: uuid.UUID, entry: AccessRecorded) -> None:
        await self.conn.execute(
            insert(access_log)
            .values(event_id=event_id, **entry.model_dump())
            # Redelivered under another consumer name (e.g. a replayed dead letter): once.
            .on_conflict_do_nothing(index_elements=[access_log.c.event_id])
        )

    async def for_patient(self, patient_id: str, limit: int) -> list[AccessRecorded]:
        rows = (await self.conn.execute(access_log_for_patient(patient_id, limit))).all()
        return [
            AccessRecorded.model_validate(
                {k: v for k, v in row._mapping.items() if k != "event_id"}
            )
            for row in rows
        ]


def _state(patient: Patient) -> dict[str, Any]:
    c = patient.contact
    address = c.address
    return {
        "identifier_kind": patient.identifier.kind.value,
        "identifier_value": patient.identifier.value,
        "protected": patient.protected,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "registered_at": patient.registered_at,
        "mobile": c.mobile,
        "email": c.email,
        "address_street": address.street if address else None,
        "address_postal_code": address.postal_code if address else None,
        "address_city": address.city if address else None,
        "blocks": [b.model_dump(mode="json") for b in patient.blocks],
        "consents": [x.model_dump(mode="json") for x in patient.consents],
    }


def _patient(row: Row[Any]) -> Patient:
    r = row._mapping
    street = r["address_street"]
    return Patient(
        patient_id=r["patient_id"],
        identifier=PatientIdentifier(
            kind=IdentifierKind(r["identifier_kind"]), value=r["identifier_value"]
        ),
        protected=r["protected"],
        given_name=r["given_name"],
        family_name=r["family_name"],
        registered_at=r["registered_at"],
        contact=Contact(
            mobile=r["mobile"],
            email=r["email"],
            address=PostalAddress(street, r["address_postal_code"], r["address_city"])
            if street is not None
            else None,
        ),
        blocks=[Block.model_validate(b) for b in r["blocks"]],
        consents=[Consent.model_validate(x) for x in r["consents"]],
        version=r["version"],
    )
