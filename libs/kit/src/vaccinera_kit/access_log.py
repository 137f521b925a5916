"""Access log (ID-7): every read or write of a patient's data is reported as an
``AccessRecorded`` event; identity keeps them append-only.

A write stages its access event in the same unit of work as the change (``event``, or
``by_code`` for a patient acting with a booking's reference and SMS code); a read
commits one to the outbox before the data is returned (``record``). Either way the outbox relay
publishes it, so an access is never silently lost.
"""

from __future__ import annotations

from datetime import UTC, datetime

from vaccinera_contracts.access import Operation
from vaccinera_contracts.events import AccessRecorded
from vaccinera_contracts.roles import Principal
from vaccinera_kit.unit_of_work import UnitOfWorkFactory


class AccessLog:
    def __init__(self, service: str, unit_of_work: UnitOfWorkFactory) -> None:
        self.service = service
        self.unit_of_work = unit_of_work

    def event(self, principal: Principal, op: Operation, patient_id: str) -> AccessRecorded:
        active = principal.active_assignment
        return AccessRecorded(
            patient_id=patient_id,
            service=self.service,
            operation=op.name,
            action=op.action,
            purpose=op.purpose,
            at=datetime.now(UTC),
            actor_kind=principal.kind,
            actor=principal.hsa_id or principal.subject,
            hsa_id=principal.hsa_id,
            assignment_id=active.id if active else None,
            role=active.role.value if active else None,
            unit_id=active.unit_id if active else None,
            care_provider_id=active.care_provider_id if active else None,
        )

    def by_code(self, op: Operation, patient_id: str, reference: str) -> AccessRecorded:
        """The patient, not logged in, acting with a booking's reference and the code from its
        SMS (BK-2): no HSA-id, no assignment; the actor is the booking reference used."""
        return AccessRecorded(
            patient_id=patient_id,
            service=self.service,
            operation=op.name,
            action=op.action,
            purpose=op.purpose,
            at=datetime.now(UTC),
            actor_kind="patient_by_code",
            actor=f"reference:{reference}",
        )

    async def record(self, principal: Principal, op: Operation, *patient_ids: str) -> None:
        """Record reads (or writes that carry no document of their own)."""
        if not patient_ids:
            return
        async with self.unit_of_work() as uow:
            uow.publish(*(self.event(principal, op, pid) for pid in patient_ids))
