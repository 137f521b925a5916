"""The patient a journal call is about: known from identity's events, or asked of identity
once when the registration has not arrived yet (a patient added a moment ago)."""

from __future__ import annotations

from vaccinera_contracts.roles import Principal
from vaccinera_journal.services.context import Context
from vaccinera_journal.store import PatientOnFile, Patients
from vaccinera_kit.auth import ensure_own
from vaccinera_kit.errors import NotFound


async def on_file(ctx: Context, principal: Principal, patient_id: str) -> PatientOnFile:
    """The patient, or 404; a citizen only themselves (AC-5)."""
    async with ctx.read() as conn:
        patient = await Patients(conn).get(patient_id)
    if patient is None or patient.identifier is None:
        found = await ctx.identity.patient(patient_id)
        if found is None:
            raise NotFound(f"No patient {patient_id}.", code="patient_not_found")
        async with ctx.unit_of_work() as uow:
            repository = Patients(uow.conn)
            await repository.identified(patient_id, found.identifier, found.identifier_kind)
            patient = await repository.get(patient_id)
        assert patient is not None
    ensure_own(principal, patient.identifier)
    return patient
