"""RX-4's vocabulary in the contracts: the register's counts (``PopulationCounted``) on
identity's topic, keyed by one constant, registered for consumers and naming no person; the
age bands of Folkhälsomyndigheten's statistics; a registration's birth date and municipality
added without breaking a v1 payload that lacks them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import pairwise

from vaccinera_contracts import topics
from vaccinera_contracts.envelope import new_envelope
from vaccinera_contracts.events import (
    EVENT_MODELS,
    IdentifierChanged,
    PatientRegistered,
    PopulationCounted,
    PopulationRow,
)
from vaccinera_contracts.events.identity import AGE_BANDS, POPULATION_KEY, age_band, age_on

PERSONAL = ("personnummer", "identifier", "given_name", "family_name", "mobile", "address")


def counted() -> PopulationCounted:
    return PopulationCounted(
        counted_at=datetime(2026, 12, 2, 6, 0, tzinfo=UTC),
        ages_on=date(2026, 11, 27),
        rows=(
            PopulationRow(
                municipality_code="0580", municipality="Linköping", age_band="18-29", persons=31
            ),
            PopulationRow(municipality_code=None, municipality=None, age_band="80+", persons=2),
        ),
    )


def test_rx4_population_counted_is_on_identitys_topic_under_one_key() -> None:
    event = counted()
    assert EVENT_MODELS["identity.PopulationCounted"] is PopulationCounted
    assert event.topic == topics.IDENTITY
    assert event.aggregate_key() == POPULATION_KEY == "population"
    envelope = new_envelope(event, producer="identity")
    assert PopulationCounted.model_validate(envelope.data) == event
    assert not any(word in envelope.model_dump_json() for word in PERSONAL)


def test_rx4_age_bands_cover_every_age_once_in_order() -> None:
    names = [name for name, _, _ in AGE_BANDS]
    assert names == [
        "0-11", "12-15", "16-17", "18-29", "30-39", "40-49",
        "50-59", "60-64", "65-69", "70-79", "80+",
    ]  # fmt: skip
    for (_, _, last), (_, first, _) in pairwise(AGE_BANDS):
        assert last is not None and first == last + 1
    assert [age_band(a) for a in (0, 11, 12, 17, 18, 64, 65, 79, 80, 105)] == [
        "0-11", "0-11", "12-15", "16-17", "18-29", "60-64", "65-69", "70-79", "80+", "80+",
    ]  # fmt: skip


def test_rx4_age_in_whole_years_on_the_day() -> None:
    assert age_on(date(1961, 11, 27), date(2026, 11, 27)) == 65
    assert age_on(date(1961, 11, 28), date(2026, 11, 27)) == 64
    # Born on 29 February: a year older on 1 March in a common year.
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18


def test_rx4_registration_facts_are_additive_to_v1() -> None:
    v1 = {
        "patient_id": "p-1",
        "identifier": {"kind": "personnummer", "value": "191212121212"},
        "identifier_kind": "personnummer",
        "protected": False,
    }
    old = PatientRegistered.model_validate(v1)
    assert (old.municipality_code, old.birth_date) == (None, None)
    new = PatientRegistered.model_validate(
        {**v1, "municipality_code": "0580", "birth_date": "1912-12-12"}
    )
    assert (new.municipality_code, new.birth_date) == ("0580", date(1912, 12, 12))
    changed = IdentifierChanged.model_validate(
        {"patient_id": "p-1", "old": v1["identifier"], "new": v1["identifier"]}
    )
    assert changed.municipality_code is None
