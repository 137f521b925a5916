"""The report ledger: doses, their versions, and one report per dose version and receiver.

A report is created when both the dose and the patient's identifier are known (the journal's
and identity's events may arrive in either order). A new identifier (ID-4) makes a new version
of each of the patient's doses; the reports of older versions not yet acknowledged are
superseded, never sent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_contracts.events import AdministrationCorrected, DoseAdministered
from vaccinera_registry_export.tables import doses, patients, reports

RECEIVERS = ("nvr", "npo")


class Ledger:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def lock(self, patient_id: str) -> None:
        """One patient's events one at a time: a dose and the patient's registration arriving
        at once on two topics must not each miss the other and leave the dose unreported (nor
        without the patient's register facts, ``Statistics``)."""
        await self.conn.execute(
            select(func.pg_advisory_xact_lock(func.hashtextextended("ledger:" + patient_id, 0)))
        )

    async def identified(
        self, patient_id: str, identifier: str, kind: str, now: datetime, *, changed: bool
    ) -> None:
        """The patient's identifier; ``changed`` (ID-4): every dose already in the ledger is
        reported again under it, as a new version."""
        await self.lock(patient_id)
        statement = upsert(patients).values(
            patient_id=patient_id, identifier=identifier, identifier_kind=kind
        )
        await self.conn.execute(
            statement.on_conflict_do_update(
                index_elements=[patients.c.patient_id],
                set_={"identifier": identifier, "identifier_kind": kind},
            )
        )
        if changed:
            bumped = await self.conn.execute(
                update(doses)
                .where(doses.c.patient_id == patient_id)
                .values(version=doses.c.version + 1)
                .returning(doses.c.administration_id, doses.c.version)
            )
            for administration_id, version in bumped.all():
                await self._supersede(administration_id, version)
        await self.schedule(patient_id, now)

    async def _supersede(self, administration_id: str, version: int) -> None:
        """Reports of the dose's older versions not yet acknowledged are never sent."""
        await self.conn.execute(
            update(reports)
            .where(
                reports.c.administration_id == administration_id,
                reports.c.version < version,
                reports.c.state.in_(("pending", "failed")),
            )
            .values(state="superseded")
        )

    async def corrected(self, event: AdministrationCorrected, now: datetime) -> None:
        """A given dose corrected in the journal (RX-1): the dose as it now stands, as a new
        version to report. A redelivered correction finds nothing to change."""
        await self.lock(event.patient_id)
        bumped = await self.conn.execute(
            update(doses)
            .where(
                doses.c.administration_id == event.administration_id,
                or_(
                    doses.c.batch_number != event.batch_number,
                    doses.c.dose_number != event.dose_number,
                ),
            )
            .values(
                batch_number=event.batch_number,
                dose_number=event.dose_number,
                version=doses.c.version + 1,
            )
            .returning(doses.c.version)
        )
        version = bumped.scalar()
        if version is not None:
            await self._supersede(event.administration_id, version)
            await self.schedule(event.patient_id, now)

    async def given(self, event: DoseAdministered, now: datetime) -> None:
        await self.lock(event.patient_id)
        await self.conn.execute(
            upsert(doses)
            .values(
                administration_id=event.administration_id,
                patient_id=event.patient_id,
                vaccine_id=event.vaccine_id,
                vaccine_name=event.vaccine_name,
                atc_code=event.atc_code,
                dose_number=event.dose_number,
                batch_number=event.batch_number,
                unit_id=event.unit_id,
                care_provider_id=event.care_provider_id,
                administered_at=event.administered_at,
                vaccinator_hsa_id=event.vaccinator_hsa_id,
                version=1,
            )
            .on_conflict_do_nothing(index_elements=[doses.c.administration_id])
        )
        await self.schedule(event.patient_id, now)

    async def schedule(self, patient_id: str, now: datetime) -> None:
        """A report per receiver for each of the patient's doses whose current version has
        none, under the patient's identifier (nothing while it is unknown)."""
        for receiver in RECEIVERS:
            missing = (
                select(
                    doses.c.administration_id,
                    literal(receiver).label("receiver"),
                    doses.c.version,
                    patients.c.identifier,
                    patients.c.identifier_kind,
                    literal("pending").label("state"),
                    literal(now, reports.c.due_at.type).label("due_at"),
                    literal(now, reports.c.created_at.type).label("created_at"),
                )
                .select_from(doses.join(patients, patients.c.patient_id == doses.c.patient_id))
                .where(doses.c.patient_id == patient_id)
                .where(
                    ~select(reports.c.report_id)
                    .where(
                        and_(
                            reports.c.administration_id == doses.c.administration_id,
                            reports.c.receiver == receiver,
                            reports.c.version == doses.c.version,
                        )
                    )
                    .exists()
                )
            )
            await self.conn.execute(
                upsert(reports)
                .from_select(
                    [
                        "administration_id",
                        "receiver",
                        "version",
                        "identifier",
                        "identifier_kind",
                        "state",
                        "due_at",
                        "created_at",
                    ],
                    missing,
                )
                .on_conflict_do_nothing()
            )
