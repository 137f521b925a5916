"""Patient identifiers: personnummer, samordningsnummer, reservnummer (REQUIREMENTS ID-1).

The Luhn and date rules come from the maintained ``personnummer`` library; this module only
tells the three kinds apart, infers the century of 10-digit input and, when the library says
no, names the rule that failed so staff get a precise answer.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Final

from personnummer import personnummer
from pydantic import BaseModel, ConfigDict


class IdentifierKind(StrEnum):
    PERSONNUMMER = "personnummer"
    SAMORDNINGSNUMMER = "samordningsnummer"
    RESERVNUMMER = "reservnummer"


class IdentifierError(ValueError):
    """Raised with a machine-readable ``rule`` and a message a person understands."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


# Region-issued reserve numbers: two-digit region code, "R", nine digits (e.g. 13R000000042).
# Configurable per region; the point is that it can never be mistaken for a personnummer.
DEFAULT_RESERVE_PATTERN: Final = re.compile(r"^\d{2}R\d{9}$")

_NATIONAL = re.compile(r"^(?P<century>\d{2})?(?P<yymmdd>\d{6})(?P<sep>[-+])?(?P<serial>\d{4})$")


class PatientIdentifier(BaseModel):
    """An identifier in canonical form: 12 digits for national numbers."""

    model_config = ConfigDict(frozen=True)

    kind: IdentifierKind
    value: str

    def masked(self) -> str:
        """Safe to show in a log or an error: only the kind and the last two characters."""
        return f"{self.kind.value}:********{self.value[-2:]}"


def parse_identifier(
    raw: str,
    *,
    reserve_pattern: re.Pattern[str] = DEFAULT_RESERVE_PATTERN,
    today: date | None = None,
) -> PatientIdentifier:
    """Parse any accepted form into a canonical identifier or raise ``IdentifierError``."""
    text = raw.strip().replace(" ", "")
    if reserve_pattern.fullmatch(text.upper()):
        return PatientIdentifier(kind=IdentifierKind.RESERVNUMMER, value=text.upper())
    match = _NATIONAL.fullmatch(text)
    if match is None:
        raise IdentifierError(
            "unknown_format",
            "Not a personnummer, samordningsnummer or reservnummer: use YYYYMMDD-NNNN, "
            "YYMMDD-NNNN (+ for 100 years or older) or the region's reserve number format.",
        )
    full_year = _full_year(match, today or date.today())
    canonical = f"{full_year:04d}{match['yymmdd'][2:]}{match['serial']}"
    try:
        parsed = personnummer.parse(canonical)
    except personnummer.PersonnummerException as exc:
        raise _why_invalid(full_year, match["yymmdd"], match["serial"]) from exc
    kind = (
        IdentifierKind.SAMORDNINGSNUMMER
        if parsed.is_coordination_number()
        else IdentifierKind.PERSONNUMMER
    )
    return PatientIdentifier(kind=kind, value=parsed.format(long_format=True))


def _full_year(match: re.Match[str], today: date) -> int:
    yy = int(match["yymmdd"][:2])
    if match["century"]:
        return int(match["century"]) * 100 + yy
    # 10-digit input lost its century: take the latest year not in the future, and
    # 100 years earlier when the separator is "+" (Skatteverket's rule).
    base = today.year - 100 if match["sep"] == "+" else today.year
    return base - ((base - yy) % 100)


def _why_invalid(full_year: int, yymmdd: str, serial: str) -> IdentifierError:
    month, day = int(yymmdd[2:4]), int(yymmdd[4:6])
    if day > 60:
        day -= 60  # samordningsnummer: day of birth + 60
    try:
        date(full_year, month, day)
    except ValueError:
        return IdentifierError(
            "impossible_date", f"No such date of birth: {full_year}-{yymmdd[2:4]}-{yymmdd[4:6]}."
        )
    if serial[:3] == "000":
        return IdentifierError("invalid_serial", "The birth number (digits 7-9) cannot be 000.")
    return IdentifierError(
        "checksum", "The check digit (last digit) does not match: check for a typing error."
    )
