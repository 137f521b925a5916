"""The journal's and the inventory's events (JR-1, JR-4, JR-5, IN-1..IN-6): on their topics,
keyed as documented, versioned, registered for consumers, and free of patient names and
identifiers."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from vaccinera_contracts import topics
from vaccinera_contracts.envelope import DomainEvent, new_envelope
from vaccinera_contracts.events import (
    EVENT_MODELS,
    BatchCheckedIn,
    DoseAdministered,
    DoseOrdered,
    HistoricalDoseRecorded,
    OrderVoided,
    StockChanged,
    StockLow,
    VaccineRenamed,
)

NOW = datetime(2021, 5, 9, 10, 0, tzinfo=UTC)
JOURNAL = (DoseOrdered, OrderVoided, DoseAdministered, HistoricalDoseRecorded, VaccineRenamed)
INVENTORY = (BatchCheckedIn, StockChanged, StockLow)
# Field names that would carry who the patient is (ID-3: never in an event).
PERSONAL = ("personnummer", "identifier", "given_name", "family_name", "mobile", "address")


def administered() -> DoseAdministered:
    return DoseAdministered(
        patient_id="p-1",
        administration_id="a-1",
        vaccine_id="v-comirnaty",
        vaccine_name="Comirnaty",
        dose_number=2,
        batch_id="b-1",
        batch_number="FA1234",
        unit_id="unit-centrum",
        care_provider_id="provider-region",
        administered_at=NOW,
        vaccinator_hsa_id="SE2321000000-nurse",
    )


def test_jr_in_events_are_on_their_topics_and_registered() -> None:
    for model in JOURNAL:
        assert model.topic == topics.JOURNAL
        assert model.event_type.startswith("journal.")
    for model in INVENTORY:
        assert model.topic == topics.INVENTORY
        assert model.event_type.startswith("inventory.")
    for model in (*JOURNAL, *INVENTORY):
        assert EVENT_MODELS[model.event_type] is model
        assert model.event_version == 1


@pytest.mark.parametrize("model", [*JOURNAL, *INVENTORY], ids=lambda m: m.__name__)
def test_id3_no_patient_name_or_identifier_in_events(model: type[DomainEvent]) -> None:
    for name in model.model_fields:
        assert not any(p in name for p in PERSONAL), (model.__name__, name)


def test_jr4_dose_administered_keyed_by_patient_round_trips_through_the_envelope() -> None:
    event = administered()
    assert event.aggregate_key() == "p-1"
    envelope = new_envelope(event, producer="journal")
    assert envelope.type == "journal.DoseAdministered"
    assert envelope.payload(DoseAdministered) == event


def test_jr4_dose_number_is_at_least_one() -> None:
    with pytest.raises(ValidationError):
        administered().model_validate({**administered().model_dump(), "dose_number": 0})


def test_jr1_vaccine_renamed_keyed_by_vaccine() -> None:
    renamed = VaccineRenamed(
        vaccine_id="v-az",
        name="Vaxzevria",
        previous_name="COVID-19 Vaccine AstraZeneca",
        renamed_at=NOW,
    )
    assert renamed.aggregate_key() == "v-az"


def test_in1_in6_inventory_events_keyed_by_batch_low_stock_by_unit_and_vaccine() -> None:
    common = {
        "batch_id": "b-1",
        "unit_id": "unit-centrum",
        "care_provider_id": "provider-region",
        "vaccine_id": "v-comirnaty",
    }
    checked_in = BatchCheckedIn(
        **common,
        delivery_id="d-1",
        vaccine_name="Comirnaty",
        batch_number="FA1234",
        expires_on=date(2021, 8, 31),
        doses=150,
        balance=150,
        checked_in_at=NOW,
        checked_in_by_hsa_id="SE2321000000-stock_admin",
    )
    changed = StockChanged(**common, change="discarded", delta=-6, balance=144, at=NOW)
    low = StockLow(
        unit_id="unit-centrum",
        care_provider_id="provider-region",
        vaccine_id="v-comirnaty",
        vaccine_name="Comirnaty",
        usable_doses=10,
        level=12,
        at=NOW,
    )
    assert checked_in.aggregate_key() == changed.aggregate_key() == "b-1"
    assert low.aggregate_key() == "unit-centrum:v-comirnaty"
    with pytest.raises(ValidationError):
        StockChanged(**common, change="discarded", delta=-1, balance=-1, at=NOW)
