"""The journal's rules without I/O, written from the requirements: the catalogue and the next
dose's first day (JR-1, BK-10); ordering, defaults and voids (JR-2, JR-3); giving a dose from
the unit's batch (JR-4, IN-6, BK-10); doses given elsewhere (JR-5, JR-9); and who sees which
entries (AC-5, JR-8, ID-5, ID-6). Days are Swedish days (Europe/Stockholm)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal

import pytest

from vaccinera_contracts.events import (
    AdministrationCorrected,
    Block,
    Consent,
    DoseAdministered,
    DoseOrdered,
    HistoricalDoseRecorded,
    OrderVoided,
)
from vaccinera_journal.domain import (
    BatchOnHand,
    Order,
    PatientAccess,
    PatientRecord,
    Place,
    Reader,
    Vaccine,
    VaccineChange,
    change,
    local_day,
    next_dose,
    sort_out,
)
from vaccinera_kit.errors import Conflict, DomainError, Forbidden

# 11:00 in Stockholm (summer time, UTC+2).
NOW = datetime(2021, 5, 10, 9, 0, tzinfo=UTC)
TODAY = date(2021, 5, 10)

COMIRNATY = Vaccine("vaccine-comirnaty", "Comirnaty", "BioNTech", "J07BN01", 2, 21)
VAXZEVRIA = Vaccine("vaccine-vaxzevria", "Vaxzevria", "AstraZeneca AB", "J07BN02", 2, 28)
INFLUVAC = Vaccine("vaccine-influvac", "Influvac Tetra", "Viatris", "J07BB02", 1, None)
# A two-dose series without a minimum interval in the catalogue.
NO_INTERVAL = Vaccine("vaccine-free", "Utan intervall", "Acme", "J07XX01", 2, None)
CATALOGUE = {v.vaccine_id: v for v in (COMIRNATY, VAXZEVRIA, INFLUVAC, NO_INTERVAL)}
VACCINE_OF = CATALOGUE.__getitem__

PROVIDER, OTHER_PROVIDER = "provider-region", "provider-privat"
CENTRUM, NORR, PRIVAT = "unit-centrum", "unit-norr", "unit-privat"
DOCTOR = Place(CENTRUM, PROVIDER, "SE-doctor")
NURSE = Place(CENTRUM, PROVIDER, "SE-nurse")
# A nurse at another unit of the same care provider, and one of another care provider.
NORR_NURSE = Place(NORR, PROVIDER, "SE-nurse-norr")
PRIVAT_NURSE = Place(PRIVAT, OTHER_PROVIDER, "SE-nurse-privat")


# --- helpers -----------------------------------------------------------------------------------


def a_record() -> PatientRecord:
    return PatientRecord("p-1")


def order(
    record: PatientRecord,
    vaccine: Vaccine,
    *doses: int,
    place: Place = DOCTOR,
    now: datetime = NOW,
    replaces: str | None = None,
) -> list[Order]:
    ids = [f"o-{len(record.orders) + i}" for i in range(len(doses))]
    return record.place_orders(ids, vaccine, list(doses), "18-64", place, now, replaces)


def batch(
    vaccine: Vaccine = COMIRNATY,
    *,
    unit: str = CENTRUM,
    provider: str = PROVIDER,
    expires_on: date = TODAY + timedelta(days=60),
    available: int = 10,
) -> BatchOnHand:
    return BatchOnHand(
        batch_id=f"b-{vaccine.vaccine_id}-{unit}",
        unit_id=unit,
        care_provider_id=provider,
        vaccine_id=vaccine.vaccine_id,
        batch_number="FA1234",
        expires_on=expires_on,
        available=available,
    )


def give(
    record: PatientRecord,
    the_order: Order,
    *,
    now: datetime = NOW,
    place: Place = NURSE,
    from_batch: BatchOnHand | None = None,
) -> DoseAdministered:
    record.events.clear()
    record.administer(
        f"a-{the_order.order_id}",
        the_order.order_id,
        from_batch or batch(CATALOGUE[the_order.vaccine_id], unit=place.unit_id),
        VACCINE_OF,
        place,
        now,
    )
    (event,) = record.events
    assert isinstance(event, DoseAdministered)
    return event


def history(
    record: PatientRecord,
    vaccine: Vaccine,
    dose: int,
    given_on: date,
    now: datetime = NOW,
) -> HistoricalDoseRecorded:
    record.events.clear()
    record.record_history(
        f"h-{dose}", vaccine, dose, given_on, "DK", "Given i Köpenhamn", DOCTOR, now
    )
    (event,) = record.events
    assert isinstance(event, HistoricalDoseRecorded)
    return event


def at_noon(day: date) -> datetime:
    """Noon in Stockholm on ``day`` (10:00 UTC in summer)."""
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=UTC)


def field_and_rule(exc: pytest.ExceptionInfo[DomainError]) -> tuple[str | None, str]:
    (detail,) = exc.value.details
    return detail.field, detail.rule


# --- the catalogue (JR-1, BK-10) ---------------------------------------------------------------


def test_bk10_next_dose_from_is_the_minimum_interval_after_the_dose() -> None:
    assert COMIRNATY.next_dose_from(1, TODAY) == TODAY + timedelta(days=21)
    assert VAXZEVRIA.next_dose_from(1, TODAY) == TODAY + timedelta(days=28)


def test_bk10_no_next_dose_day_after_the_series_or_without_an_interval() -> None:
    assert COMIRNATY.next_dose_from(2, TODAY) is None  # the series is complete
    assert COMIRNATY.next_dose_from(3, TODAY) is None  # a booster follows other advice
    assert INFLUVAC.next_dose_from(1, TODAY) is None
    assert NO_INTERVAL.next_dose_from(1, TODAY) is None


def test_jr1_a_rename_is_an_event_naming_the_old_and_the_new_name() -> None:
    az = Vaccine("vaccine-az", "COVID-19 Vaccine AstraZeneca", "AstraZeneca AB", "J07BN02", 2, 28)
    renamed_at = datetime(2021, 5, 9, 8, 0, tzinfo=UTC)
    changed, event = change(az, VaccineChange(name="Vaxzevria"), renamed_at)
    assert changed.name == "Vaxzevria"
    assert (changed.doses_in_series, changed.min_interval_days) == (2, 28)
    assert event is not None
    assert (event.vaccine_id, event.name, event.previous_name, event.renamed_at) == (
        "vaccine-az",
        "Vaxzevria",
        "COVID-19 Vaccine AstraZeneca",
        renamed_at,
    )


def test_jr1_a_change_without_a_new_name_is_no_rename() -> None:
    changed, event = change(COMIRNATY, VaccineChange(min_interval_days=42), NOW)
    assert event is None
    assert (changed.name, changed.min_interval_days) == ("Comirnaty", 42)
    unchanged, event = change(COMIRNATY, VaccineChange(name="Comirnaty"), NOW)
    assert (unchanged, event) == (COMIRNATY, None)


def test_jr1_the_minimum_interval_can_be_removed_not_set_and_removed_at_once() -> None:
    changed, _ = change(COMIRNATY, VaccineChange(no_min_interval=True), NOW)
    assert changed.min_interval_days is None
    assert changed.next_dose_from(1, TODAY) is None
    with pytest.raises(DomainError) as exc:
        change(COMIRNATY, VaccineChange(min_interval_days=21, no_min_interval=True), NOW)
    assert exc.value.status == 422
    assert field_and_rule(exc)[0] == "min_interval_days"


# --- ordering (JR-2, JR-3) ---------------------------------------------------------------------


def test_jr2_doses_1_and_2_ordered_together_are_two_orders_and_two_events() -> None:
    record = a_record()
    placed = order(record, COMIRNATY, 1, 2)
    assert [(o.dose_number, o.vaccine_id, o.status) for o in placed] == [
        (1, COMIRNATY.vaccine_id, "ordered"),
        (2, COMIRNATY.vaccine_id, "ordered"),
    ]
    assert len({o.order_id for o in placed}) == 2
    assert all(isinstance(e, DoseOrdered) for e in record.events)
    assert [
        (e.order_id, e.dose_number, e.vaccine_name, e.prescriber_hsa_id, e.unit_id)
        for e in record.events
        if isinstance(e, DoseOrdered)
    ] == [
        (placed[0].order_id, 1, "Comirnaty", "SE-doctor", CENTRUM),
        (placed[1].order_id, 2, "Comirnaty", "SE-doctor", CENTRUM),
    ]
    assert len(record.events) == 2
    assert record.new_orders == placed


def test_jr2_an_ordered_dose_number_is_not_ordered_again() -> None:
    record = a_record()
    order(record, COMIRNATY, 1)
    with pytest.raises(Conflict) as exc:
        order(record, COMIRNATY, 1)
    assert (exc.value.status, exc.value.code) == (409, "dose_already_ordered")
    # Nor within one order, nor by another unit of the same or another care provider.
    with pytest.raises(Conflict):
        order(record, VAXZEVRIA, 1, place=Place(NORR, PROVIDER, "SE-doctor-norr"))
    with pytest.raises(Conflict):
        order(record, VAXZEVRIA, 1, place=Place(PRIVAT, OTHER_PROVIDER, "SE-doctor-privat"))
    assert len(record.orders) == 1


def test_jr2_the_same_dose_number_twice_in_one_order_is_refused() -> None:
    record = a_record()
    with pytest.raises(DomainError) as exc:
        order(record, COMIRNATY, 2, 2)
    assert exc.value.status == 422
    assert field_and_rule(exc)[0] == "dose_numbers"
    assert record.orders == [] and record.events == []


def test_jr2_a_given_dose_number_is_not_ordered_again() -> None:
    record = a_record()
    (first,) = order(record, COMIRNATY, 1)
    give(record, first)
    with pytest.raises(Conflict) as exc:
        order(record, COMIRNATY, 1)
    assert exc.value.status == 409
    assert exc.value.code == "dose_already_given"


def test_jr2_jr5_a_dose_number_entered_as_history_is_not_ordered_again() -> None:
    record = a_record()
    history(record, COMIRNATY, 1, TODAY - timedelta(days=30))
    with pytest.raises(Conflict) as exc:
        order(record, COMIRNATY, 1)
    assert exc.value.code == "dose_already_given"


def test_jr2_a_failed_order_of_two_doses_places_neither() -> None:
    record = a_record()
    order(record, COMIRNATY, 2)
    record.events.clear()
    with pytest.raises(Conflict):
        order(record, COMIRNATY, 1, 2)
    assert [o.dose_number for o in record.orders] == [2]
    assert record.events == []


def test_jr2_dose_2_defaults_to_the_vaccine_of_a_given_dose_1() -> None:
    record = a_record()
    (first,) = order(record, VAXZEVRIA, 1)
    give(record, first)
    assert record.default_vaccine_id(2) == VAXZEVRIA.vaccine_id
    assert next_dose(record.given(), record.orders) == (2, VAXZEVRIA.vaccine_id)


def test_jr2_dose_2_defaults_to_the_vaccine_of_a_historical_dose_1() -> None:
    record = a_record()
    history(record, VAXZEVRIA, 1, TODAY - timedelta(days=40))
    assert record.default_vaccine_id(2) == VAXZEVRIA.vaccine_id
    assert next_dose(record.given(), record.orders) == (2, VAXZEVRIA.vaccine_id)


def test_jr2_dose_2_defaults_to_the_vaccine_of_a_dose_1_still_ordered() -> None:
    record = a_record()
    order(record, COMIRNATY, 1)
    assert record.default_vaccine_id(2) == COMIRNATY.vaccine_id
    assert next_dose(record.given(), record.orders) == (2, COMIRNATY.vaccine_id)


def test_jr2_a_first_dose_has_no_default_nor_does_a_voided_dose_1() -> None:
    record = a_record()
    assert record.default_vaccine_id(1) is None
    assert next_dose(record.given(), record.orders) == (1, None)
    (first,) = order(record, VAXZEVRIA, 1)
    record.void(first.order_id, "Fel vaccin", DOCTOR, NOW)
    assert record.default_vaccine_id(2) is None
    assert next_dose(record.given(), record.orders) == (1, None)


def test_jr3_a_voided_order_is_replaced_by_another_vaccine_keeping_its_dose_number() -> None:
    """The FAQ's case: dose 2 switched from a vector vaccine to mRNA."""
    record = a_record()
    (first,) = order(record, VAXZEVRIA, 1)
    give(record, first)
    (second,) = order(record, VAXZEVRIA, 2)
    record.void(second.order_id, "Byte till mRNA", DOCTOR, NOW)
    record.events.clear()
    (new,) = order(record, COMIRNATY, 2, replaces=second.order_id)
    assert (new.dose_number, new.vaccine_id, new.replaces_order_id) == (
        2,
        COMIRNATY.vaccine_id,
        second.order_id,
    )
    (event,) = record.events
    assert isinstance(event, DoseOrdered)
    assert (event.dose_number, event.replaces_order_id) == (2, second.order_id)
    assert record.order(second.order_id).status == "voided"


def test_jr3_an_order_not_voided_cannot_be_replaced() -> None:
    record = a_record()
    (second,) = order(record, VAXZEVRIA, 2)
    with pytest.raises(Conflict) as exc:
        order(record, COMIRNATY, 2, replaces=second.order_id)
    assert exc.value.status == 409
    assert [o.order_id for o in record.orders] == [second.order_id]


def test_jr3_a_replacing_order_of_another_dose_number_is_refused() -> None:
    record = a_record()
    (second,) = order(record, VAXZEVRIA, 2)
    record.void(second.order_id, "Byte till mRNA", DOCTOR, NOW)
    for doses in ([3], [1], [2, 3]):
        with pytest.raises(DomainError) as exc:
            order(record, COMIRNATY, *doses, replaces=second.order_id)
        assert exc.value.status == 422
        assert field_and_rule(exc)[0] == "dose_numbers"
    assert len(record.orders) == 1


def test_jr3_void_records_who_why_and_the_event() -> None:
    record = a_record()
    (first,) = order(record, VAXZEVRIA, 1)
    record.events.clear()
    later = NOW + timedelta(hours=1)
    voided = record.void(first.order_id, "Fel vaccin", DOCTOR, later)
    assert (voided.status, voided.voided_at, voided.voided_by_hsa_id, voided.void_reason) == (
        "voided",
        later,
        "SE-doctor",
        "Fel vaccin",
    )
    (event,) = record.events
    assert isinstance(event, OrderVoided)
    assert (event.order_id, event.dose_number, event.voided_by_hsa_id) == (
        first.order_id,
        1,
        "SE-doctor",
    )
    assert record.voided == [voided]
    # The dose number is free again.
    order(record, COMIRNATY, 1)


def test_jr3_a_given_order_cannot_be_voided() -> None:
    record = a_record()
    (first,) = order(record, COMIRNATY, 1)
    give(record, first)
    with pytest.raises(Conflict) as exc:
        record.void(first.order_id, "Ångrad", DOCTOR, NOW)
    assert exc.value.status == 409
    assert record.order(first.order_id).status == "administered"


def test_jr3_a_voided_order_cannot_be_voided_again() -> None:
    record = a_record()
    (first,) = order(record, COMIRNATY, 1)
    record.void(first.order_id, "Fel vaccin", DOCTOR, NOW)
    record.events.clear()
    with pytest.raises(Conflict) as exc:
        record.void(first.order_id, "Igen", DOCTOR, NOW)
    assert exc.value.status == 409
    assert record.events == []
    assert record.order(first.order_id).void_reason == "Fel vaccin"


def test_jr3_ac5_another_care_providers_order_cannot_be_voided() -> None:
    record = a_record()
    (first,) = order(record, COMIRNATY, 1)
    record.events.clear()
    with pytest.raises(Forbidden) as exc:
        record.void(first.order_id, "Fel", Place(PRIVAT, OTHER_PROVIDER, "SE-doctor-x"), NOW)
    assert exc.value.status == 403
    assert record.order(first.order_id).status == "ordered"
    assert record.events == []


# --- giving a dose (JR-4, IN-6, BK-10) ---------------------------------------------------------


def test_jr4_administration_records_vaccine_batch_dose_time_unit_and_vaccinator() -> None:
    record = a_record()
    (first,) = order(record, COMIRNATY, 1)
    event = give(record, first)
    (given,) = record.new_administrations
    assert (given.vaccine_id, given.batch_id, given.batch_number, given.dose_number) == (
        COMIRNATY.vaccine_id,
        batch().batch_id,
        "FA1234",
        1,
    )
    assert (given.administered_at, given.unit_id, given.vaccinator_hsa_id) == (
        NOW,
        CENTRUM,
        "SE-nurse",
    )
    assert (event.order_id, event.batch_id, event.vaccine_name, event.administered_at) == (
        first.order_id,
        batch().batch_id,
        "Comirnaty",
        NOW,
    )
    assert record.order(first.order_id).status == "administered"


def test_jr4_ac5_a_nurse_at_another_unit_of_the_provider_gives_the_order_from_her_stock() -> None:
    record = a_record()
    (first,) = order(record, COMIRNATY, 1)
    event = give(record, first, place=NORR_NURSE)
    assert (event.unit_id, event.vaccinator_hsa_id) == (NORR, "SE-nurse-norr")


def test_jr4_ac5_another_care_providers_order_is_not_given() -> None:
    record = a_record()
    (first,) = order(record, COMIRNATY, 1)
    with pytest.raises(Forbidden):
        give(record, first, place=PRIVAT_NURSE)
    assert record.administrations == []


def test_jr4_a_batch_of_another_unit_is_refused() -> None:
    record = a_record()
    (first,) = order(record, COMIRNATY, 1)
    with pytest.raises(DomainError) as exc:
        give(record, first, from_batch=batch(COMIRNATY, unit=NORR))
    assert exc.value.status == 422
    assert field_and_rule(exc)[0] == "batch_id"
    assert record.administrations == [] and record.events == []


def test_jr4_a_batch_of_another_vaccine_than_ordered_is_refused() -> None:
    record = a_record()
    (first,) = order(record, COMIRNATY, 1)
    with pytest.raises(DomainError) as exc:
        give(record, first, from_batch=batch(VAXZEVRIA))
    assert exc.value.status == 422
    assert field_and_rule(exc)[0] == "batch_id"
    assert record.order(first.order_id).status == "ordered"


def test_in6_an_expired_batch_is_refused() -> None:
    record = a_record()
    (first,) = order(record, COMIRNATY, 1)
    with pytest.raises(Conflict) as exc:
        give(record, first, from_batch=batch(expires_on=TODAY - timedelta(days=1)))
    assert (exc.value.status, exc.value.code) == (409, "batch_expired")
    assert record.administrations == []


def test_in6_a_batch_is_usable_through_its_expiry_day_in_swedish_time() -> None:
    expiring = batch(expires_on=TODAY)
    # 23:30 in Stockholm on the expiry day (21:30 UTC): still usable.
    late = datetime(2021, 5, 10, 21, 30, tzinfo=UTC)
    assert local_day(late) == TODAY
    record = a_record()
    (first,) = order(record, COMIRNATY, 1)
    give(record, first, now=late, from_batch=expiring)
    # 00:30 in Stockholm the day after (still the expiry day in UTC): expired.
    after_midnight = datetime(2021, 5, 10, 22, 30, tzinfo=UTC)
    assert after_midnight.date() == TODAY and local_day(after_midnight) == TODAY + timedelta(1)
    other = PatientRecord("p-2")
    (its_first,) = order(other, COMIRNATY, 1)
    with pytest.raises(Conflict) as exc:
        give(other, its_first, now=after_midnight, from_batch=expiring)
    assert exc.value.code == "batch_expired"


def test_in6_an_empty_batch_is_refused() -> None:
    record = a_record()
    (first,) = order(record, COMIRNATY, 1)
    with pytest.raises(Conflict) as exc:
        give(record, first, from_batch=batch(available=0))
    assert (exc.value.status, exc.value.code) == (409, "batch_empty")
    give(record, first, from_batch=batch(available=1))


@pytest.mark.parametrize(("vaccine", "days"), [(COMIRNATY, 21), (VAXZEVRIA, 28)])
def test_bk10_dose_2_before_the_minimum_interval_is_refused_naming_the_first_day(
    vaccine: Vaccine, days: int
) -> None:
    record = a_record()
    first, second = order(record, vaccine, 1, 2)
    give(record, first, now=at_noon(TODAY))
    first_day = TODAY + timedelta(days=days)
    with pytest.raises(Conflict) as exc:
        give(record, second, now=at_noon(first_day - timedelta(days=1)))
    assert (exc.value.status, exc.value.code) == (409, "dose_too_early")
    assert exc.value.extra["earliest_date"] == first_day.isoformat()
    assert record.order(second.order_id).status == "ordered"
    # The first allowed day itself, even early in the morning (Swedish time).
    morning = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC) - timedelta(hours=1)
    assert local_day(morning) == first_day
    event = give(record, second, now=morning)
    assert event.dose_number == 2


def test_bk10_the_interval_counts_swedish_days() -> None:
    """Dose 1 at 00:30 in Stockholm on 11 May (22:30 UTC on 10 May): dose 2 of Comirnaty
    from 1 June, not from 31 May."""
    record = a_record()
    first, second = order(record, COMIRNATY, 1, 2)
    event = give(record, first, now=datetime(2021, 5, 10, 22, 30, tzinfo=UTC))
    assert event.next_dose_from == date(2021, 6, 1)
    with pytest.raises(Conflict) as exc:
        give(record, second, now=at_noon(date(2021, 5, 31)))
    assert exc.value.extra["earliest_date"] == "2021-06-01"
    assert record.earliest_day(2, VACCINE_OF) == date(2021, 6, 1)


def test_bk10_dose_administered_names_the_first_day_of_the_next_dose() -> None:
    record = a_record()
    first, second = order(record, COMIRNATY, 1, 2)
    assert give(record, first, now=at_noon(TODAY)).next_dose_from == TODAY + timedelta(days=21)
    # After the last dose of the series: none.
    assert give(record, second, now=at_noon(TODAY + timedelta(days=30))).next_dose_from is None


def test_bk10_no_next_dose_day_for_a_single_dose_or_a_vaccine_without_interval() -> None:
    record = a_record()
    (flu,) = order(record, INFLUVAC, 1)
    assert give(record, flu).next_dose_from is None
    other = PatientRecord("p-2")
    first, second = order(other, NO_INTERVAL, 1, 2)
    assert give(other, first).next_dose_from is None
    # Nothing holds dose 2 back.
    assert give(other, second, now=NOW + timedelta(minutes=5)).dose_number == 2


def test_jr4_an_order_is_given_once() -> None:
    record = a_record()
    (first,) = order(record, COMIRNATY, 1)
    give(record, first)
    with pytest.raises(Conflict) as exc:
        give(record, first)
    assert exc.value.status == 409
    assert len(record.administrations) == 1


def test_jr3_jr5_a_dose_still_ordered_is_not_entered_as_history_until_voided() -> None:
    """Dose 1 ordered; then it turns out it was given abroad: the order is voided first, so no
    open order is left to be given on top of the dose entered as history."""
    record = a_record()
    (first,) = order(record, COMIRNATY, 1)
    with pytest.raises(Conflict) as exc:
        history(record, COMIRNATY, 1, TODAY - timedelta(days=3))
    assert (exc.value.status, exc.value.code) == (409, "dose_already_ordered")
    assert record.history == []
    record.void(first.order_id, "Given utomlands", DOCTOR, NOW)
    history(record, COMIRNATY, 1, TODAY - timedelta(days=3))
    assert [d.dose_number for d in record.history] == [1]


# --- doses given elsewhere (JR-5, JR-9) --------------------------------------------------------


def test_jr5_history_with_a_future_date_is_refused() -> None:
    record = a_record()
    with pytest.raises(DomainError) as exc:
        history(record, COMIRNATY, 1, TODAY + timedelta(days=1))
    assert exc.value.status == 422
    assert field_and_rule(exc)[0] == "given_on"
    assert record.history == []


def test_jr5_history_of_today_in_swedish_time_is_accepted() -> None:
    """00:30 in Stockholm on 11 May (still 10 May in UTC): a dose given that day is past."""
    record = a_record()
    event = history(
        record, COMIRNATY, 1, date(2021, 5, 11), now=datetime(2021, 5, 10, 22, 30, tzinfo=UTC)
    )
    assert event.given_on == date(2021, 5, 11)


def test_jr5_history_has_its_comment_and_no_batch_and_names_the_next_dose() -> None:
    record = a_record()
    event = history(record, VAXZEVRIA, 1, date(2021, 4, 1))
    assert (event.comment, event.country, event.dose_number) == ("Given i Köpenhamn", "DK", 1)
    assert event.next_dose_from == date(2021, 4, 29)
    assert not hasattr(event, "batch_id")
    (dose,) = record.new_history
    assert (dose.unit_id, dose.recorded_by_hsa_id) == (CENTRUM, "SE-doctor")


def test_jr5_a_dose_number_already_recorded_is_not_entered_again() -> None:
    record = a_record()
    (first,) = order(record, COMIRNATY, 1)
    give(record, first)
    with pytest.raises(Conflict) as exc:
        history(record, COMIRNATY, 1, TODAY - timedelta(days=1))
    assert exc.value.code == "dose_already_given"


def test_jr9_dose_3_after_two_historical_doses() -> None:
    record = a_record()
    history(record, COMIRNATY, 1, date(2021, 1, 10))
    history(record, COMIRNATY, 2, date(2021, 2, 1))
    assert next_dose(record.given(), record.orders) == (3, COMIRNATY.vaccine_id)
    (third,) = order(record, COMIRNATY, 3)
    event = give(record, third)
    assert event.dose_number == 3
    assert [d.dose_number for d in record.given()] == [1, 2, 3]


def test_jr9_dose_3_is_ordered_whatever_system_held_doses_1_and_2() -> None:
    record = a_record()
    (third,) = order(record, COMIRNATY, 3)
    assert give(record, third).dose_number == 3


def test_jr5_bk10_a_historical_dose_counts_for_the_interval() -> None:
    record = a_record()
    history(record, COMIRNATY, 1, TODAY - timedelta(days=10))
    (second,) = order(record, COMIRNATY, 2)
    with pytest.raises(Conflict) as exc:
        give(record, second)
    assert exc.value.code == "dose_too_early"
    assert exc.value.extra["earliest_date"] == (TODAY + timedelta(days=11)).isoformat()
    assert give(record, second, now=at_noon(TODAY + timedelta(days=11))).dose_number == 2


# --- who sees what (AC-5, JR-8, ID-5, ID-6) ----------------------------------------------------


def entries() -> list[Order]:
    """One order from each of three units: two of the region's, one of a private provider."""
    record = a_record()
    order(record, COMIRNATY, 1, place=Place(CENTRUM, PROVIDER, "SE-d1"))
    order(record, COMIRNATY, 2, place=Place(NORR, PROVIDER, "SE-d2"))
    order(record, COMIRNATY, 3, place=Place(PRIVAT, OTHER_PROVIDER, "SE-d3"))
    return record.orders


def units(items: list[Order]) -> list[str]:
    return sorted(o.unit_id for o in items)


def consent(
    provider: str = PROVIDER,
    expires_at: datetime = NOW + timedelta(days=365),
    revoked_at: datetime | None = None,
) -> Consent:
    return Consent(
        consent_id=f"c-{provider}",
        care_provider_id=provider,
        scope="shared_record_access",
        recorded_at=NOW - timedelta(days=1),
        recorded_by="SE-nurse",
        expires_at=expires_at,
        revoked_at=revoked_at,
    )


def block(scope: Literal["unit", "care_provider"], target: str) -> Block:
    return Block(
        block_id=f"blk-{target}",
        scope=scope,
        target_id=target,
        set_at=NOW - timedelta(days=2),
        set_by="SE-admin",
    )


def test_ac5_the_same_care_provider_sees_every_unit_of_it_not_another_provider() -> None:
    for reader in (Reader(CENTRUM, PROVIDER), Reader(NORR, PROVIDER)):
        seen = sort_out(entries(), reader, PatientAccess(), NOW)
        assert units(seen.own) == [CENTRUM, NORR]
        assert seen.shared == []
        assert seen.not_shown == 1


def test_jr8_another_provider_sees_only_the_count_before_consent() -> None:
    seen = sort_out(entries(), Reader(PRIVAT, OTHER_PROVIDER), PatientAccess(), NOW)
    assert units(seen.own) == [PRIVAT]
    assert seen.shared == []
    assert seen.not_shown == 2


def test_jr8_id6_another_provider_sees_everything_after_a_valid_consent() -> None:
    access = PatientAccess(consents=(consent(OTHER_PROVIDER),))
    seen = sort_out(entries(), Reader(PRIVAT, OTHER_PROVIDER), access, NOW)
    assert units(seen.own) == [PRIVAT]
    assert units(seen.shared) == [CENTRUM, NORR]
    assert seen.not_shown == 0


@pytest.mark.parametrize(
    "given_consent",
    [
        pytest.param(consent(OTHER_PROVIDER, expires_at=NOW - timedelta(seconds=1)), id="expired"),
        pytest.param(consent(OTHER_PROVIDER, expires_at=NOW), id="expiring-now"),
        pytest.param(consent(OTHER_PROVIDER, revoked_at=NOW - timedelta(hours=1)), id="revoked"),
        pytest.param(consent("provider-tredje"), id="for-another-provider"),
    ],
)
def test_jr8_id6_an_expired_revoked_or_foreign_consent_is_none(given_consent: Consent) -> None:
    access = PatientAccess(consents=(given_consent,))
    seen = sort_out(entries(), Reader(PRIVAT, OTHER_PROVIDER), access, NOW)
    assert seen.shared == []
    assert seen.not_shown == 2


def test_id5_a_blocked_unit_is_neither_shown_nor_counted_to_another_provider() -> None:
    access = PatientAccess(blocks=(block("unit", NORR),))
    before = sort_out(entries(), Reader(PRIVAT, OTHER_PROVIDER), access, NOW)
    assert (before.shared, before.not_shown) == ([], 1)
    consented = PatientAccess(blocks=access.blocks, consents=(consent(OTHER_PROVIDER),))
    after = sort_out(entries(), Reader(PRIVAT, OTHER_PROVIDER), consented, NOW)
    assert units(after.shared) == [CENTRUM]
    assert after.not_shown == 0


def test_id5_a_blocked_unit_is_not_shown_outside_itself_but_sees_its_own_entries() -> None:
    access = PatientAccess(blocks=(block("unit", NORR),), consents=(consent(OTHER_PROVIDER),))
    itself = sort_out(entries(), Reader(NORR, PROVIDER), access, NOW)
    assert units(itself.own) == [CENTRUM, NORR]
    other_unit = sort_out(entries(), Reader(CENTRUM, PROVIDER), access, NOW)
    assert units(other_unit.own) == [CENTRUM]
    assert other_unit.not_shown == 1  # the other provider's: no consent for the region


def test_id5_a_blocked_care_provider_is_neither_shown_nor_counted_to_others() -> None:
    access = PatientAccess(blocks=(block("care_provider", PROVIDER),))
    before = sort_out(entries(), Reader(PRIVAT, OTHER_PROVIDER), access, NOW)
    assert (units(before.own), before.shared, before.not_shown) == ([PRIVAT], [], 0)
    consented = PatientAccess(blocks=access.blocks, consents=(consent(OTHER_PROVIDER),))
    after = sort_out(entries(), Reader(PRIVAT, OTHER_PROVIDER), consented, NOW)
    assert (after.shared, after.not_shown) == ([], 0)


def test_id5_a_blocked_care_provider_unit_sees_its_own_entries() -> None:
    access = PatientAccess(blocks=(block("care_provider", PROVIDER),))
    seen = sort_out(entries(), Reader(CENTRUM, PROVIDER), access, NOW)
    assert CENTRUM in units(seen.own)


def test_id5_ac5_a_blocked_care_provider_still_sees_every_unit_of_its_own() -> None:
    access = PatientAccess(blocks=(block("care_provider", PROVIDER),))
    seen = sort_out(entries(), Reader(CENTRUM, PROVIDER), access, NOW)
    assert units(seen.own) == [CENTRUM, NORR]


def test_id5_jr8_blocks_and_consents_apply_to_given_doses_alike() -> None:
    record = a_record()
    history(record, COMIRNATY, 1, TODAY - timedelta(days=60))  # entered at unit-centrum
    (mine,) = order(record, COMIRNATY, 2, place=Place(CENTRUM, PROVIDER, "SE-d1"))
    give(record, mine)
    (theirs,) = order(record, COMIRNATY, 3, place=Place(PRIVAT, OTHER_PROVIDER, "SE-d3"))
    give(record, theirs, place=PRIVAT_NURSE)
    given = record.given()
    assert len(given) == 3
    seen = sort_out(given, Reader(PRIVAT, OTHER_PROVIDER), PatientAccess(), NOW)
    assert (len(seen.own), seen.shared, seen.not_shown) == (1, [], 2)
    blocked = PatientAccess(blocks=(block("unit", CENTRUM),), consents=(consent(OTHER_PROVIDER),))
    seen = sort_out(given, Reader(PRIVAT, OTHER_PROVIDER), blocked, NOW)
    assert (len(seen.own), seen.shared, seen.not_shown) == (1, [], 0)


# --- corrections (JR-4, RX-1) ------------------------------------------------------------------


def _other_batch(vaccine: Vaccine = COMIRNATY, **kwargs: object) -> BatchOnHand:
    moved = batch(vaccine, **kwargs)  # type: ignore[arg-type]
    return BatchOnHand(**{**moved.__dict__, "batch_id": "b-other", "batch_number": "FB9999"})


def test_jr4_rx1_a_wrong_batch_is_corrected_as_a_new_revision_with_the_reason() -> None:
    record = a_record()
    (first,) = order(record, COMIRNATY, 1)
    given = give(record, first)
    record.events.clear()
    corrected = record.correct(
        given.administration_id, _other_batch(), None, "Fel batch", VACCINE_OF, NURSE, NOW
    )
    assert (corrected.batch_number, corrected.revision) == ("FB9999", 2)
    assert corrected.correction_reason == "Fel batch"
    (event,) = record.events
    assert isinstance(event, AdministrationCorrected)
    assert (event.previous_batch_id, event.batch_id) == (given.batch_id, "b-other")
    assert record.given()[0].batch_number == "FB9999"


def test_jr4_a_correction_is_made_at_the_unit_that_gave_the_dose() -> None:
    record = a_record()
    (first,) = order(record, COMIRNATY, 1)
    given = give(record, first)
    with pytest.raises(Forbidden):
        record.correct(given.administration_id, None, 2, "Fel dos", VACCINE_OF, NORR_NURSE, NOW)


def test_jr4_in6_a_correction_names_a_change_a_batch_of_the_vaccine_and_a_free_dose_number() -> (
    None
):
    record = a_record()
    first, second = order(record, COMIRNATY, 1, 2)
    given = give(record, first)
    with pytest.raises(DomainError) as unchanged:
        record.correct(given.administration_id, None, 1, "x", VACCINE_OF, NURSE, NOW)
    assert unchanged.value.status == 422
    with pytest.raises(DomainError) as wrong:
        record.correct(
            given.administration_id, _other_batch(VAXZEVRIA), None, "x", VACCINE_OF, NURSE, NOW
        )
    assert wrong.value.details[0].rule == "wrong_vaccine"
    later = NOW + timedelta(days=30)
    give(record, second, now=later)
    with pytest.raises(Conflict) as taken:
        record.correct(given.administration_id, None, 2, "x", VACCINE_OF, NURSE, later)
    assert taken.value.code == "dose_already_given"
