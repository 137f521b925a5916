"""BK-2 / ID-3: who may book online."""

from vaccinera_booking.domain import self_booking
from vaccinera_contracts.identifiers import IdentifierKind


def test_bk2_personnummer_holders_may_book_online() -> None:
    assert self_booking(IdentifierKind.PERSONNUMMER, protected=False).allowed
    assert self_booking(IdentifierKind.SAMORDNINGSNUMMER, protected=False).allowed


def test_bk2_reserve_number_patients_are_told_to_call() -> None:
    verdict = self_booking(IdentifierKind.RESERVNUMMER, protected=False)
    assert not verdict.allowed
    assert verdict.reason is not None and "reserve number" in verdict.reason
    assert "Call the vaccination unit" in verdict.reason


def test_id3_protected_patients_cannot_book_online() -> None:
    verdict = self_booking(IdentifierKind.PERSONNUMMER, protected=True)
    assert not verdict.allowed
    assert verdict.reason is not None and "protected identity" in verdict.reason
