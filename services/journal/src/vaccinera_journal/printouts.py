"""The printed vaccination history and journal (JR-7), as PDF, made with fpdf2.

Both list the doses the reader may see, with date, vaccine (its current name, JR-1) and dose
number; the journal adds each dose's batch number, vaccinator and the health declaration it
was given on (FAQ: "skriv ut journal innehåller mer detaljer om vaccinationen inkl. besvarad
hälsodeklaration och batchnummer"). The text is Swedish, for the patient and other care.
"""

from __future__ import annotations

from typing import Literal

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from vaccinera_journal.domain import TZ, Administration, Given
from vaccinera_journal.services.reads import RecordView

Kind = Literal["history", "journal"]
TITLES: dict[Kind, str] = {"history": "Vaccinationshistorik", "journal": "Vaccinationsjournal"}


def _text(value: object) -> str:
    """The PDF's standard fonts write Latin-1, which holds Swedish; anything else becomes ?."""
    return str(value).encode("latin-1", "replace").decode("latin-1")


class _Document(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(format="A4")
        self.title_text = title
        self.set_title(title)
        self.set_creator("Vaccinera")
        self.set_auto_page_break(auto=True, margin=15)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 5, _text(f"{self.title_text} - sida {self.page_no()}"), align="C")

    def line_of(self, text: str, *, size: int = 10, bold: bool = False, indent: float = 0) -> None:
        self.set_font("Helvetica", style="B" if bold else "", size=size)
        self.set_x(self.l_margin + indent)
        self.multi_cell(self.epw - indent, 5, _text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _dose_lines(pdf: _Document, view: RecordView, dose: Given, kind: Kind) -> None:
    vaccine = view.vaccines[dose.vaccine_id]
    other = view.reader is not None and dose.care_provider_id != view.reader.care_provider_id
    where = " (annan vårdgivare)" if other else ""
    pdf.line_of(
        f"{dose.given_on.isoformat()}  {vaccine.name}, dos {dose.dose_number}{where}", bold=True
    )
    if isinstance(dose, Administration):
        given_at = dose.administered_at.astimezone(TZ).strftime("%H:%M")
        pdf.line_of(f"Given kl. {given_at} på enhet {dose.unit_id}", indent=6)
        if kind == "journal":
            pdf.line_of(
                f"Batchnummer: {dose.batch_number}   Vaccinatör (HSA-id): "
                f"{dose.vaccinator_hsa_id}   ATC: {vaccine.atc_code}   "
                f"Tillverkare: {vaccine.manufacturer}",
                indent=6,
            )
            declaration = view.declarations.get(dose.declaration_id or "")
            if declaration is None:
                pdf.line_of("Hälsodeklaration: ingen besvarad före dosen.", indent=6)
            else:
                answered = declaration.submitted_at.astimezone(TZ).strftime("%Y-%m-%d %H:%M")
                pdf.line_of(f"Hälsodeklaration (besvarad {answered}):", indent=6)
                if not declaration.answers:  # answered before answers travelled with it
                    pdf.line_of("Svaren finns i bokningen, inte i journalen.", indent=12)
                for answer in declaration.answers:
                    comment = f" - {answer.comment}" if answer.comment else ""
                    pdf.line_of(f"{answer.question} {answer.answer}{comment}", indent=12)
    else:
        country = f", {dose.country}" if dose.country else ""
        pdf.line_of(
            f"Historisk vaccination, given utanför Vaccinera{country}: {dose.comment}",
            indent=6,
        )
    pdf.ln(2)


def render(view: RecordView, kind: Kind) -> bytes:
    """The printout as PDF bytes."""
    pdf = _Document(TITLES[kind])
    pdf.add_page()
    pdf.line_of(TITLES[kind], size=16, bold=True)
    pdf.line_of(f"Patient: {view.identifier or view.patient_id}")
    pdf.line_of(f"Utskriven: {view.at.astimezone(TZ).strftime('%Y-%m-%d %H:%M')}")
    pdf.ln(4)
    doses = sorted([*view.given.own, *view.given.shared], key=lambda d: (d.given_on, d.dose_number))
    if not doses:
        pdf.line_of("Inga vaccinationer registrerade.")
    for dose in doses:
        _dose_lines(pdf, view, dose, kind)
    if view.given.not_shown:
        pdf.line_of(
            f"Ytterligare {view.given.not_shown} vaccinationer finns hos andra vårdgivare och "
            "visas efter patientens samtycke (sammanhållen journalföring)."
        )
    return bytes(pdf.output())
