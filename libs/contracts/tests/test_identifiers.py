"""ID-1: personnummer, samordningsnummer and reservnummer are accepted and told apart."""

from datetime import date

import pytest

from vaccinera_contracts.identifiers import (
    IdentifierError,
    IdentifierKind,
    parse_identifier,
)

TODAY = date(2026, 11, 27)


@pytest.mark.parametrize(
    "raw",
    ["19121212-1212", "191212121212", "121212+1212", " 19121212 1212 "],
)
def test_id1_personnummer_forms_share_one_canonical_value(raw: str) -> None:
    parsed = parse_identifier(raw, today=TODAY)
    assert parsed.kind is IdentifierKind.PERSONNUMMER
    assert parsed.value == "191212121212"


def test_id1_ten_digits_without_plus_are_the_latest_possible_century() -> None:
    # 12-12-12 without "+" is 2012: a 14-year-old, not someone born in 1912.
    assert parse_identifier("121212-1212", today=TODAY).value == "201212121212"
    assert parse_identifier("1212121212", today=TODAY).value == "201212121212"


def test_id1_plus_separator_means_a_hundred_years_or_older() -> None:
    assert parse_identifier("121212+1212", today=TODAY).value == "191212121212"


def test_id1_samordningsnummer_is_told_apart() -> None:
    # Day of birth + 60: born 1990-01-01 -> "61".
    parsed = parse_identifier(_coordination_number(), today=TODAY)
    assert parsed.kind is IdentifierKind.SAMORDNINGSNUMMER


def test_id1_reserve_number_in_region_format() -> None:
    parsed = parse_identifier("13r000000042", today=TODAY)
    assert parsed.kind is IdentifierKind.RESERVNUMMER
    assert parsed.value == "13R000000042"


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("19121212-1213", "checksum"),
        ("19121312-1212", "impossible_date"),  # month 13
        ("19900230-1234", "impossible_date"),  # 30 February
        ("hello", "unknown_format"),
        ("1912121212121", "unknown_format"),
    ],
)
def test_id1_invalid_input_names_the_failed_rule(raw: str, rule: str) -> None:
    with pytest.raises(IdentifierError) as caught:
        parse_identifier(raw, today=TODAY)
    assert caught.value.rule == rule
    assert caught.value.message


def test_id1_masked_form_hides_all_but_two_digits() -> None:
    masked = parse_identifier("19121212-1212", today=TODAY).masked()
    assert "1912121212" not in masked
    assert masked.endswith("12")


def _coordination_number() -> str:
    """A valid samordningsnummer computed with the Luhn rule, born 1990-01-01."""
    base = "900161" + "123"
    total = 0
    for i, ch in enumerate(base):
        v = int(ch) * (2 - i % 2)
        total += v - 9 if v > 9 else v
    check = (10 - total % 10) % 10
    return f"19{base}{check}"
