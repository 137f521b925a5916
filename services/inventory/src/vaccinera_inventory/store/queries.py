"""The statements of the inventory's hot paths, built by functions so the EXPLAIN test
(``tests/test_hot_queries.py``) checks exactly what the service runs: a batch by id (the
decrement locks it), the usable doses of a unit's vaccine (every low-stock check), the unit's
batches in stock, the unit's discrepancies, a batch's movements, and the regional overview
(IN-5) per unit, care provider and region, one statement each."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Integer, Select, case, func, literal, literal_column, select, union_all

from vaccinera_inventory.domain import Level, Period
from vaccinera_inventory.tables import administrations, batches, movements, vaccines

# A constant, not a parameter: only then can a generic plan (a prepared statement the server
# stopped re-planning) prove the partial index's "balance > 0" and use it.
IN_STOCK = batches.c.balance > literal_column("0")
DISCREPANT = administrations.c.discrepancy.is_not(None)

BATCH_COLUMNS = (
    batches.c.batch_id,
    batches.c.unit_id,
    batches.c.care_provider_id,
    batches.c.vaccine_id,
    vaccines.c.name.label("vaccine_name"),
    batches.c.batch_number,
    batches.c.expires_on,
    batches.c.balance,
    batches.c.delivered,
    batches.c.checked_in_at,
)
_BATCHES = select(*BATCH_COLUMNS).join_from(
    batches, vaccines, batches.c.vaccine_id == vaccines.c.vaccine_id
)


def batch_query(batch_id: str, *, lock: bool = False) -> Select[Any]:
    """A batch with its vaccine's current name; ``lock``: the batch row FOR UPDATE (the
    decrement, a discard, a correction)."""
    query = _BATCHES.where(batches.c.batch_id == batch_id)
    return query.with_for_update(of=batches) if lock else query


def batch_by_number_query(unit_id: str, vaccine_id: str, batch_number: str) -> Select[Any]:
    """The unit's batch of this number, locked: a second delivery adds to it."""
    return _BATCHES.where(
        batches.c.unit_id == unit_id,
        batches.c.vaccine_id == vaccine_id,
        batches.c.batch_number == batch_number,
    ).with_for_update(of=batches)


def unit_batches_query(unit_id: str, vaccine_id: str | None = None) -> Select[Any]:
    """The unit's batches with doses left (expired ones too: they are still to discard)."""
    query = _BATCHES.where(batches.c.unit_id == unit_id, IN_STOCK)
    if vaccine_id is not None:
        query = query.where(batches.c.vaccine_id == vaccine_id)
    return query.order_by(batches.c.vaccine_id, batches.c.expires_on, batches.c.batch_number)


def usable_doses_query(unit_id: str, vaccine_id: str, today: date) -> Select[Any]:
    """The unit's doses of a vaccine in unexpired batches (IN-6)."""
    return select(func.coalesce(func.sum(batches.c.balance), 0)).where(
        batches.c.unit_id == unit_id,
        batches.c.vaccine_id == vaccine_id,
        IN_STOCK,
        batches.c.expires_on >= today,
    )


def discrepancies_query(unit_id: str, limit: int) -> Select[Any]:
    """The unit's administrations the stock did not cover, the open ones first."""
    return (
        select(
            administrations.c.administration_id,
            administrations.c.batch_id,
            administrations.c.vaccine_id,
            administrations.c.administered_at,
            administrations.c.decremented,
            administrations.c.discrepancy,
            administrations.c.recorded_at,
            administrations.c.resolved_at,
            administrations.c.resolved_by,
        )
        .where(administrations.c.unit_id == unit_id, DISCREPANT)
        .order_by(administrations.c.recorded_at.desc())
        .limit(limit)
    )


def movements_query(batch_id: str, limit: int) -> Select[Any]:
    """A batch's movements, newest first."""
    return (
        select(movements)
        .where(movements.c.batch_id == batch_id)
        .order_by(movements.c.movement_id.desc())
        .limit(limit)
    )


def _of(change: str, sign: int = 1) -> Any:
    return case(
        (movements.c.change == literal_column(f"'{change}'"), movements.c.delta * sign),
        else_=literal(0, Integer),
    )


_ZERO = literal(0, Integer)


def overview_query(level: Level, period: Period, today: date) -> Select[Any]:
    """Stock now and consumption in ``period`` per vaccine, at ``level``: the batches in stock
    (the partial index) and the period's movements (the index on their time), summed in one
    statement, so one snapshot: exact while administrations go on (IN-5)."""
    stock = select(
        batches.c.unit_id,
        batches.c.care_provider_id,
        batches.c.vaccine_id,
        case((batches.c.expires_on >= today, batches.c.balance), else_=_ZERO).label("usable"),
        case((batches.c.expires_on < today, batches.c.balance), else_=_ZERO).label("expired"),
        _ZERO.label("delivered"),
        _ZERO.label("administered"),
        _ZERO.label("discarded"),
        _ZERO.label("corrected"),
    ).where(IN_STOCK)
    flows = select(
        movements.c.unit_id,
        movements.c.care_provider_id,
        movements.c.vaccine_id,
        _ZERO,
        _ZERO,
        _of("checked_in"),
        _of("administered", -1),
        _of("discarded", -1),
        _of("corrected"),
    ).where(movements.c.at >= period.start, movements.c.at < period.end)
    rows = union_all(stock, flows).subquery("rows")
    keys = {
        "unit": [rows.c.unit_id, rows.c.care_provider_id],
        "care_provider": [rows.c.care_provider_id],
        "region": [],
    }[level]
    totals = (
        select(
            *keys,
            rows.c.vaccine_id,
            *(
                func.sum(rows.c[name]).label(name)
                for name in (
                    "usable",
                    "expired",
                    "delivered",
                    "administered",
                    "discarded",
                    "corrected",
                )
            ),
        )
        .group_by(*keys, rows.c.vaccine_id)
        .subquery("totals")
    )
    key_columns = [totals.c[k.name] for k in keys]
    return (
        select(totals, vaccines.c.name.label("vaccine_name"))
        .join_from(totals, vaccines, totals.c.vaccine_id == vaccines.c.vaccine_id)
        .order_by(*key_columns, vaccines.c.name, totals.c.vaccine_id)
    )
