"""The inventory's rules without I/O (IN-1..IN-6): the batch aggregate and its balance, the
events it records, usable batches, low-stock crossings, the quick list and the overview's
period."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from vaccinera_contracts.events import BatchCheckedIn, StockChanged, StockLow
from vaccinera_inventory.domain import (
    Administration,
    Batch,
    Delivery,
    LowStockLevel,
    Period,
    QuickList,
    Vaccine,
    local_day,
    unit_stock,
    usable_batches,
)
from vaccinera_kit.errors import DomainError

NOW = datetime(2021, 5, 10, 9, 0, tzinfo=UTC)
TODAY = local_day(NOW)
COMIRNATY = Vaccine("v-comirnaty", "Comirnaty")
VAXZEVRIA = Vaccine("v-az", "Vaxzevria")


def delivery(
    doses: int = 150,
    expires_on: date | None = None,
    number: str = "FA1234",
    vaccine: Vaccine = COMIRNATY,
) -> Delivery:
    return Delivery(vaccine, number, expires_on or TODAY + timedelta(days=30), doses)


def batch(doses: int = 150, **kw: object) -> Batch:
    return Batch.check_in(
        batch_id="b-1",
        delivery_id="d-1",
        unit_id="unit-centrum",
        care_provider_id="provider-region",
        delivery=delivery(doses, **kw),  # type: ignore[arg-type]
        by="SE-stock",
        now=NOW,
        today=TODAY,
    )


def given(n: int, batch_id: str = "b-1", at: datetime = NOW) -> Administration:
    return Administration(f"a-{n}", batch_id, "unit-centrum", "provider-region", "v-comirnaty", at)


def rule(exc: pytest.ExceptionInfo[DomainError]) -> tuple[str | None, str | None]:
    (detail,) = exc.value.details
    return detail.field, detail.rule


def test_in1_check_in_makes_a_batch_and_records_batch_checked_in() -> None:
    b = batch(150)
    assert (b.balance, b.delivered) == (150, 150)
    (event,) = b.events
    assert isinstance(event, BatchCheckedIn)
    assert (event.doses, event.balance, event.vaccine_name) == (150, 150, "Comirnaty")
    assert event.checked_in_by_hsa_id == "SE-stock"


@pytest.mark.parametrize("doses", [0, -1, 100_001])
def test_in1_check_in_refuses_doses_out_of_range(doses: int) -> None:
    with pytest.raises(DomainError) as exc:
        batch(doses)
    assert rule(exc) == ("doses", "range")


def test_in6_an_expired_delivery_is_refused_one_expiring_today_is_taken() -> None:
    with pytest.raises(DomainError) as exc:
        batch(expires_on=TODAY - timedelta(days=1))
    assert rule(exc) == ("expires_on", "expired")
    assert batch(expires_on=TODAY).usable(TODAY)


def test_in1_a_second_delivery_of_the_batch_adds_to_it_with_the_same_expiry() -> None:
    b = batch(100)
    b.events.clear()
    b.deliver("d-2", delivery(50), "SE-stock", NOW, TODAY)
    assert (b.balance, b.delivered) == (150, 150)
    (event,) = b.events
    assert isinstance(event, BatchCheckedIn) and (event.doses, event.balance) == (50, 150)
    with pytest.raises(DomainError) as exc:
        b.deliver("d-3", delivery(50, expires_on=TODAY + timedelta(days=3)), None, NOW, TODAY)
    assert rule(exc) == ("expires_on", "differs")


def test_in2_an_administration_lowers_the_balance_by_one() -> None:
    b = batch(3)
    b.events.clear()
    outcome = b.administer(given(1), NOW)
    assert outcome.decremented and outcome.discrepancy is None
    assert b.balance == 2
    (event,) = b.events
    assert isinstance(event, StockChanged)
    assert (event.change, event.delta, event.balance, event.administration_id) == (
        "administered",
        -1,
        2,
        "a-1",
    )


def test_in2_200_administrations_on_150_doses_never_go_below_zero_50_discrepancies() -> None:
    b = batch(150)
    outcomes = [b.administer(given(n), NOW) for n in range(200)]
    assert b.balance == 0
    assert sum(o.decremented for o in outcomes) == 150
    assert [o.discrepancy for o in outcomes[150:]] == ["empty"] * 50
    assert all(e.balance >= 0 for e in b.events if isinstance(e, StockChanged))


def test_in6_a_dose_from_an_expired_batch_is_subtracted_and_reported() -> None:
    b = batch(10, expires_on=TODAY)
    outcome = b.administer(given(1, at=NOW + timedelta(days=1)), NOW + timedelta(days=1))
    assert outcome.decremented and outcome.discrepancy == "expired"
    assert b.balance == 9


def test_in3_discard_with_reason_and_who_at_most_the_balance() -> None:
    b = batch(10)
    b.events.clear()
    b.discard(4, "  Bruten kylkedja ", "SE-stock", NOW)
    (event,) = b.events
    assert isinstance(event, StockChanged)
    assert (event.change, event.delta, event.balance) == ("discarded", -4, 6)
    assert (event.reason, event.by_hsa_id) == ("Bruten kylkedja", "SE-stock")
    with pytest.raises(DomainError) as exc:
        b.discard(7, "Tappad", "SE-stock", NOW)
    assert rule(exc) == ("doses", "exceeds_balance")
    with pytest.raises(DomainError) as exc:
        b.discard(1, "   ", "SE-stock", NOW)
    assert rule(exc) == ("reason", "required")
    assert b.balance == 6


def test_in3_a_correction_sets_the_counted_balance() -> None:
    b = batch(10)
    b.events.clear()
    b.correct(12, "Inventering", "SE-stock", NOW)
    b.correct(12, "Kontrollräkning", "SE-stock", NOW)
    assert b.balance == 12
    assert [(e.delta, e.balance) for e in b.events if isinstance(e, StockChanged)] == [
        (2, 12),
        (0, 12),
    ]
    with pytest.raises(DomainError) as exc:
        b.correct(-1, "x", None, NOW)
    assert rule(exc) == ("counted", "range")


def _batch(batch_id: str, vaccine: Vaccine, expires_on: date, balance: int) -> Batch:
    return Batch(
        batch_id, "unit-centrum", "provider-region", vaccine, batch_id, expires_on, balance, 10, NOW
    )


def test_in6_usable_batches_leave_out_expired_and_empty_first_to_expire_first() -> None:
    batches = [
        _batch("late", COMIRNATY, TODAY + timedelta(days=20), 5),
        _batch("expired", COMIRNATY, TODAY - timedelta(days=1), 5),
        _batch("empty", COMIRNATY, TODAY + timedelta(days=2), 0),
        _batch("soon", COMIRNATY, TODAY, 5),
        _batch("az", VAXZEVRIA, TODAY + timedelta(days=5), 5),
    ]
    assert [b.batch_id for b in usable_batches(batches, TODAY)] == ["soon", "late", "az"]


def test_in6_low_stock_is_published_once_per_crossing() -> None:
    level = LowStockLevel("unit-centrum", "provider-region", "v-comirnaty", level=10)
    published = [
        level.assess(usable, COMIRNATY, NOW, "b-1") for usable in (20, 11, 10, 9, 5, 0, 11, 10, 3)
    ]
    crossings = [e for e in published if e is not None]
    assert [e.usable_doses for e in crossings] == [10, 10]
    assert all(isinstance(e, StockLow) and e.level == 10 for e in crossings)
    assert level.low


def test_in6_low_stock_level_out_of_range_is_refused() -> None:
    with pytest.raises(DomainError) as exc:
        LowStockLevel("u", "p", "v", level=-1)
    assert rule(exc) == ("level", "range")


def test_in6_unit_stock_shows_the_warning_and_expired_doses_apart() -> None:
    batches = [
        _batch("a", COMIRNATY, TODAY + timedelta(days=20), 6),
        _batch("b", COMIRNATY, TODAY - timedelta(days=1), 30),
        _batch("c", VAXZEVRIA, TODAY + timedelta(days=20), 40),
    ]
    levels = {"v-comirnaty": (COMIRNATY, 10), "v-other": (Vaccine("v-other", "Spikevax"), 5)}
    stock = {s.vaccine.name: s for s in unit_stock(batches, levels, TODAY)}
    assert (stock["Comirnaty"].usable_doses, stock["Comirnaty"].expired_doses) == (6, 30)
    assert stock["Comirnaty"].low and not stock["Vaxzevria"].low
    assert stock["Spikevax"].low and stock["Spikevax"].usable_doses == 0
    assert list(stock) == ["Comirnaty", "Spikevax", "Vaxzevria"]


def test_in4_quick_list_keeps_its_order_first_is_default_each_vaccine_once() -> None:
    ql = QuickList.of("unit-centrum", [VAXZEVRIA, COMIRNATY])
    assert ql.default == VAXZEVRIA
    assert QuickList.of("u", []).default is None
    with pytest.raises(DomainError) as exc:
        QuickList.of("u", [COMIRNATY, VAXZEVRIA, COMIRNATY])
    assert rule(exc) == ("vaccines.2.vaccine_id", "duplicate")


def test_in5_period_defaults_to_30_days_and_is_at_most_a_year() -> None:
    period = Period.of(None, None, NOW)
    assert (period.start, period.end) == (NOW - timedelta(days=30), NOW)
    with pytest.raises(DomainError) as exc:
        Period.of(NOW, NOW - timedelta(days=1), NOW)
    assert rule(exc) == ("to", "before_from")
    with pytest.raises(DomainError) as exc:
        Period.of(NOW - timedelta(days=400), NOW, NOW)
    assert rule(exc) == ("from", "range")
    with pytest.raises(DomainError) as exc:
        Period.of(datetime(2021, 5, 1), None, NOW)
    assert rule(exc) == ("from", "timezone")
    with pytest.raises(DomainError) as exc:  # not an overflow computing 30 days before it
        Period.of(None, datetime(1, 1, 1, tzinfo=UTC), NOW)
    assert rule(exc) == ("to", "range")
