"""Use cases that read a patient's record: the journal as the reader may see it (AC-5), other
care providers' entries through shared record access (JR-8, ID-5, ID-6), and the printouts
(JR-7, AC-4). Every read is in the patient's access log before it is answered (ID-7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vaccinera_contracts.access import Operation
from vaccinera_contracts.roles import Principal
from vaccinera_journal.domain import (
    Administration,
    Given,
    Order,
    PatientRecord,
    Reader,
    Vaccine,
    Visible,
    next_dose,
    sort_out,
)
from vaccinera_journal.services import patients
from vaccinera_journal.services.context import Context, now, reader
from vaccinera_journal.store import Catalogue, Declaration, Declarations, load


@dataclass(frozen=True)
class RecordView:
    """What one reader is shown of a patient's record, with what it needs to be printed."""

    patient_id: str
    identifier: str | None
    orders: Visible[Order]
    given: Visible[Given]
    vaccines: dict[str, Vaccine]
    declarations: dict[str, Declaration]
    record: PatientRecord
    at: datetime
    # Staff, as their assignment; None: the patient.
    reader: Reader | None
    # The patient consented to shared record access for the reader's care provider (ID-6).
    consent: bool

    def next_dose(self) -> tuple[int, str | None]:
        """The order form's next dose and its default vaccine (JR-2), from what the reader
        sees: another provider's choice is not shown before consent."""
        return next_dose(
            [*self.given.own, *self.given.shared], [*self.orders.own, *self.orders.shared]
        )


async def view(ctx: Context, principal: Principal, op: Operation, patient_id: str) -> RecordView:
    patient = await patients.on_file(ctx, principal, patient_id)
    moment = now()
    async with ctx.read() as conn:
        record = await load(conn, patient_id)
        vaccines = await Catalogue(conn).all()
        by_id = {v.vaccine_id: v for v in vaccines}
        who = reader(principal)
        if who is None:  # the patient: every entry of their own
            orders = Visible(list(record.orders), [], 0)
            given = Visible(record.given(), [], 0)
        else:
            orders = sort_out(record.orders, who, patient.access, moment)
            given = sort_out(record.given(), who, patient.access, moment)
        declaration_ids = [
            d.declaration_id
            for d in [*given.own, *given.shared]
            if isinstance(d, Administration) and d.declaration_id is not None
        ]
        declarations = await Declarations(conn).many(declaration_ids)
    await ctx.access.record(principal, op, patient_id)
    return RecordView(
        patient_id,
        patient.identifier,
        orders,
        given,
        by_id,
        declarations,
        record,
        moment,
        who,
        who is not None and patient.access.consent_for(who.care_provider_id, moment) is not None,
    )
