"""Statistics for regional infection control (RX-4) over PostgreSQL: what the handlers keep
from identity's, the journal's and the inventory's events, and one statement per view.

Each view is one statement, so one snapshot: while doses are given and batches change, its
figures agree with each other (a dose is in the coverage and in its batch's consumption, or in
neither). ``coverage_query`` and ``stock_query`` build them; the EXPLAIN test
(``tests/test_hot_queries.py``) checks exactly these statements reach large tables through
their indexes.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    union,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_contracts.events import BatchCheckedIn, PopulationCounted, StockChanged
from vaccinera_contracts.events.identity import AGE_BANDS, POPULATION_KEY
from vaccinera_registry_export.domain.statistics import (
    PLACES,
    REGION,
    CoverageLevel,
    Days,
    StockLevel,
    local_day,
)
from vaccinera_registry_export.store.ledger import Ledger
from vaccinera_registry_export.tables import (
    doses,
    historical_doses,
    patients,
    population,
    population_count,
    stock_batches,
    stock_days,
    vaccines,
)

_ZERO = literal(0)
# A literal, not a parameter: the generic plan of a prepared statement still sees it matches
# the partial index's predicate.
IN_STOCK = stock_batches.c.balance > literal_column("0")


class Statistics:
    """The handlers' writes: each in the consumer's unit of work for its event."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    # --- identity's events ------------------------------------------------------------------

    async def resident(
        self, patient_id: str, birth_date: date | None, municipality_code: str | None
    ) -> None:
        """The register's facts of the patient (after the ledger has the patient's row), on
        the patient and every dose of theirs already here."""
        await Ledger(self.conn).lock(patient_id)
        facts = {"birth_date": birth_date, "municipality_code": municipality_code}
        for table in (patients, doses, historical_doses):
            await self.conn.execute(
                update(table).where(table.c.patient_id == patient_id).values(**facts)
            )

    async def protected(self, patient_id: str) -> None:
        """ID-3: a protected person's municipality is kept nowhere outside identity: not on
        the patient, not on any dose."""
        await Ledger(self.conn).lock(patient_id)
        for table in (patients, doses, historical_doses):
            await self.conn.execute(
                update(table).where(table.c.patient_id == patient_id).values(municipality_code=None)
            )

    async def placed(
        self, patient_id: str, *, administration_id: str = "", entry_id: str = ""
    ) -> None:
        """A new dose (``administration_id``) or dose entered as history (``entry_id``) gets
        the patient's facts. Under the ledger's lock of the patient, as every change of the
        facts: a dose and a registration or protection arriving at once on two topics cannot
        miss each other. Nothing while the patient is unknown here: the registration brings
        the facts to every dose (``resident``)."""
        await Ledger(self.conn).lock(patient_id)
        known = (
            await self.conn.execute(
                select(patients.c.birth_date, patients.c.municipality_code).where(
                    patients.c.patient_id == patient_id
                )
            )
        ).one_or_none()
        if known is None:
            return
        facts = {"birth_date": known.birth_date, "municipality_code": known.municipality_code}
        if administration_id:
            await self.conn.execute(
                update(doses).where(doses.c.administration_id == administration_id).values(**facts)
            )
        if entry_id:
            await self.conn.execute(
                update(historical_doses)
                .where(historical_doses.c.historical_dose_id == entry_id)
                .values(**facts)
            )

    async def population_counted(self, event: PopulationCounted) -> bool:
        """A newer count replaces the rows whole; an older one (or the same again) changes
        nothing. True when applied."""
        applied = await self.conn.execute(
            upsert(population_count)
            .values(key=POPULATION_KEY, counted_at=event.counted_at, ages_on=event.ages_on)
            .on_conflict_do_update(
                index_elements=[population_count.c.key],
                set_={"counted_at": event.counted_at, "ages_on": event.ages_on},
                where=population_count.c.counted_at < event.counted_at,
            )
            .returning(population_count.c.key)
        )
        if applied.first() is None:
            return False
        await self.conn.execute(delete(population))
        if event.rows:
            await self.conn.execute(
                insert(population),
                [
                    {
                        "position": i,
                        "municipality_code": row.municipality_code,
                        "municipality": row.municipality,
                        "age_band": row.age_band,
                        "persons": row.persons,
                    }
                    for i, row in enumerate(event.rows)
                ],
            )
        return True

    # --- the journal's events -------------------------------------------------------------------

    async def vaccine_named(self, vaccine_id: str, name: str) -> None:
        """A vaccine's name as an event carried it, unless one is known already."""
        await self.conn.execute(
            upsert(vaccines)
            .values(vaccine_id=vaccine_id, name=name)
            .on_conflict_do_nothing(index_elements=[vaccines.c.vaccine_id])
        )

    async def vaccine_renamed(self, vaccine_id: str, name: str, renamed_at: datetime) -> None:
        """JR-1: the catalogue's new name, unless a later rename was applied already."""
        await self.conn.execute(
            upsert(vaccines)
            .values(vaccine_id=vaccine_id, name=name, renamed_at=renamed_at)
            .on_conflict_do_update(
                index_elements=[vaccines.c.vaccine_id],
                set_={"name": name, "renamed_at": renamed_at},
                where=or_(vaccines.c.renamed_at.is_(None), vaccines.c.renamed_at < renamed_at),
            )
        )

    # --- the inventory's events (keyed by batch: one batch's arrive in order) --------------------

    async def checked_in(self, event: BatchCheckedIn) -> None:
        await self._balance(event, event.balance, event.checked_in_at, event.expires_on)
        await self._day(event, local_day(event.checked_in_at), delivered=event.doses)
        await self.vaccine_named(event.vaccine_id, event.vaccine_name)

    async def stock_changed(self, event: StockChanged) -> None:
        await self._balance(event, event.balance, event.at, None)
        day = local_day(event.at)
        if event.change == "administered":
            await self._day(event, day, administered=-event.delta)
        elif event.change == "discarded":
            await self._day(event, day, discarded=-event.delta)
        else:
            await self._day(event, day, corrected=event.delta)

    async def _balance(
        self,
        event: BatchCheckedIn | StockChanged,
        balance: int,
        at: datetime,
        expires_on: date | None,
    ) -> None:
        """The batch's balance after the event (a StockChanged before its BatchCheckedIn, e.g.
        after retention, makes the row without the expiry)."""
        values: dict[str, Any] = {"balance": balance, "changed_at": at}
        if expires_on is not None:
            values["expires_on"] = expires_on
        await self.conn.execute(
            upsert(stock_batches)
            .values(
                batch_id=event.batch_id,
                unit_id=event.unit_id,
                care_provider_id=event.care_provider_id,
                vaccine_id=event.vaccine_id,
                **values,
            )
            .on_conflict_do_update(index_elements=[stock_batches.c.batch_id], set_=values)
        )

    async def _day(self, event: BatchCheckedIn | StockChanged, day: date, **counts: int) -> None:
        statement = upsert(stock_days).values(
            day=day,
            unit_id=event.unit_id,
            care_provider_id=event.care_provider_id,
            vaccine_id=event.vaccine_id,
            **counts,
        )
        await self.conn.execute(
            statement.on_conflict_do_update(
                constraint=stock_days.primary_key,
                set_={k: stock_days.c[k] + statement.excluded[k] for k in counts},
            )
        )

    # --- the views ------------------------------------------------------------------------------

    async def coverage(
        self, by: CoverageLevel, vaccine_id: str | None, dose_number: int | None, today: date
    ) -> list[Any]:
        return list(await self.conn.execute(coverage_query(by, vaccine_id, dose_number, today)))

    async def stock(self, by: StockLevel, days: Days, today: date) -> list[Any]:
        return list(await self.conn.execute(stock_query(by, days, today)))


# --- coverage -------------------------------------------------------------------------------------


def _ages_on(today: date) -> ColumnElement[Any]:
    """The day the register's ages are counted on (today before any count arrived)."""
    counted = (
        select(population_count.c.ages_on)
        .where(population_count.c.key == POPULATION_KEY)
        .scalar_subquery()
    )
    return func.coalesce(counted, literal(today))


def _age_band(birth_date: ColumnElement[Any], today: date) -> ColumnElement[Any]:
    """The age band on the count's day, as the contract's bands; None without a birth date."""
    age = func.date_part("year", func.age(_ages_on(today), birth_date))
    bands = [(age <= last, literal(name)) for name, _, last in AGE_BANDS if last is not None]
    return case((birth_date.is_(None), null()), *bands, else_=literal(AGE_BANDS[-1][0]))


def _asked(vaccine_id: str | None) -> Subquery:
    """The vaccines asked for: one, or every one (each dose's vaccine is named in ``vaccines``
    in the transaction that brings the dose). The doses are read vaccine by vaccine through
    the coverage indexes (a lateral subquery per vaccine), never as one whole table."""
    asked = select(vaccines.c.vaccine_id)
    if vaccine_id is not None:
        asked = asked.where(vaccines.c.vaccine_id == vaccine_id)
    return asked.subquery("asked")


def _place_tops(by: CoverageLevel, vaccine_id: str | None) -> Select[Any]:
    """Per unit (care provider), vaccine and patient: the highest dose given there."""
    asked = _asked(vaccine_id)
    place = doses.c.unit_id if by == "unit" else doses.c.care_provider_id
    given = (
        select(
            place.label("key"),
            doses.c.patient_id,
            func.max(doses.c.dose_number).label("top"),
        )
        .where(doses.c.vaccine_id == asked.c.vaccine_id)
        .group_by(place, doses.c.patient_id)
        .lateral("given")
    )
    return select(given.c.key, asked.c.vaccine_id, given.c.patient_id, given.c.top).select_from(
        asked.join(given, true())
    )


def _person_tops(by: CoverageLevel, vaccine_id: str | None, today: date) -> Select[Any]:
    """Per vaccine and patient: the highest dose, given here or entered as history, and the
    patient's place at ``by`` (None: not placed by the register), from the register facts
    each dose carries (the same on all of a patient's: they change together)."""
    asked = _asked(vaccine_id)
    columns = ("patient_id", "dose_number", "municipality_code", "birth_date")
    given = (
        select(*(doses.c[name] for name in columns))
        .where(doses.c.vaccine_id == asked.c.vaccine_id)
        .correlate(asked)
    )
    history = (
        select(*(historical_doses.c[name] for name in columns))
        .where(historical_doses.c.vaccine_id == asked.c.vaccine_id)
        .correlate(asked)
    )
    every = union_all(given, history).subquery("every_dose")
    tops = (
        select(
            every.c.patient_id,
            func.max(every.c.dose_number).label("top"),
            func.max(every.c.municipality_code).label("municipality_code"),
            func.max(every.c.birth_date).label("birth_date"),
        )
        .group_by(every.c.patient_id)
        .lateral("tops")
    )
    key: ColumnElement[Any]
    if by == REGION:
        key = case((tops.c.birth_date.is_not(None), literal(REGION)), else_=null())
    elif by == "municipality":
        key = tops.c.municipality_code
    else:
        key = _age_band(tops.c.birth_date, today)
    return select(key.label("key"), asked.c.vaccine_id, tops.c.patient_id, tops.c.top).select_from(
        asked.join(tops, true())
    )


def _denominators(by: CoverageLevel) -> Select[Any]:
    persons = func.sum(population.c.persons).label("population")
    if by == REGION:
        columns: list[ColumnElement[Any]] = [literal(REGION).label("key"), null().label("name")]
        return select(*columns, persons).having(func.count() > 0)
    if by == "municipality":
        code = population.c.municipality_code
        return (
            select(code.label("key"), func.min(population.c.municipality).label("name"), persons)
            .where(code.is_not(None))
            .group_by(code)
        )
    return select(population.c.age_band.label("key"), null().label("name"), persons).group_by(
        population.c.age_band
    )


def coverage_query(
    by: CoverageLevel, vaccine_id: str | None, dose_number: int | None, today: date
) -> Select[Any]:
    """Persons with at least dose N of each vaccine at each ``by`` (for each N, or the one
    asked), the population there and the count's time, in one statement. The person levels
    show every place of the population, with 0 where nobody is covered yet."""
    per_person = (
        _place_tops(by, vaccine_id) if by in PLACES else _person_tops(by, vaccine_id, today)
    ).cte("per_person")
    if dose_number is not None:
        counted = (
            select(
                per_person.c.key,
                per_person.c.vaccine_id,
                literal(dose_number).label("dose_number"),
                func.count().label("persons"),
            )
            .where(per_person.c.top >= dose_number)
            .group_by(per_person.c.key, per_person.c.vaccine_id)
        )
    else:
        expanded = select(
            per_person.c.key,
            per_person.c.vaccine_id,
            func.generate_series(1, per_person.c.top).label("dose_number"),
        ).subquery("expanded")
        counted = select(
            expanded.c.key,
            expanded.c.vaccine_id,
            expanded.c.dose_number,
            func.count().label("persons"),
        ).group_by(expanded.c.key, expanded.c.vaccine_id, expanded.c.dose_number)
    counts = counted.cte("counts")
    counted_at = (
        select(population_count.c.counted_at)
        .where(population_count.c.key == POPULATION_KEY)
        .scalar_subquery()
    )
    if by in PLACES:
        return (
            select(
                counts.c.key,
                null().label("name"),
                counts.c.vaccine_id,
                func.coalesce(vaccines.c.name, counts.c.vaccine_id).label("vaccine_name"),
                counts.c.dose_number,
                counts.c.persons,
                null().label("population"),
                counted_at.label("counted_at"),
                _ages_on(today).label("ages_on"),
            )
            .select_from(counts.outerjoin(vaccines, vaccines.c.vaccine_id == counts.c.vaccine_id))
            .order_by(counts.c.key, "vaccine_name", counts.c.vaccine_id, counts.c.dose_number)
        )
    denominators = _denominators(by).cte("denominators")
    keys = union(select(denominators.c.key), select(counts.c.key)).subquery("keys")
    if vaccine_id is not None and dose_number is not None:
        combos = select(
            literal(vaccine_id).label("vaccine_id"), literal(dose_number).label("dose_number")
        ).subquery("combos")
    else:
        combos = select(counts.c.vaccine_id, counts.c.dose_number).distinct().subquery("combos")
    grid = (
        select(keys.c.key, combos.c.vaccine_id, combos.c.dose_number)
        .select_from(keys.join(combos, true()))
        .subquery("grid")
    )
    return (
        select(
            grid.c.key,
            denominators.c.name,
            grid.c.vaccine_id,
            func.coalesce(vaccines.c.name, grid.c.vaccine_id).label("vaccine_name"),
            grid.c.dose_number,
            func.coalesce(counts.c.persons, 0).label("persons"),
            denominators.c.population,
            counted_at.label("counted_at"),
            _ages_on(today).label("ages_on"),
        )
        .select_from(
            grid.outerjoin(
                counts,
                and_(
                    counts.c.key.is_not_distinct_from(grid.c.key),
                    counts.c.vaccine_id == grid.c.vaccine_id,
                    counts.c.dose_number == grid.c.dose_number,
                ),
            )
            .outerjoin(denominators, denominators.c.key == grid.c.key)
            .outerjoin(vaccines, vaccines.c.vaccine_id == grid.c.vaccine_id)
        )
        # The persons not placed are shown where there are some; the places always.
        .where(or_(grid.c.key.is_not(None), counts.c.persons.is_not(None)))
        .order_by(
            grid.c.key.asc().nulls_last(), "vaccine_name", grid.c.vaccine_id, grid.c.dose_number
        )
    )


# --- stock and consumption ------------------------------------------------------------------------

FIGURES = ("usable", "expired", "delivered", "administered", "discarded", "corrected")


def stock_query(by: StockLevel, days: Days, today: date) -> Select[Any]:
    """Per vaccine at ``by``: the doses in stock now (usable, and in batches past their expiry
    day) from the batches with doses left (the partial index), and those delivered,
    administered, discarded and corrected on the period's days. One statement, one snapshot."""
    fresh = or_(stock_batches.c.expires_on.is_(None), stock_batches.c.expires_on >= today)
    stock = select(
        stock_batches.c.unit_id,
        stock_batches.c.care_provider_id,
        stock_batches.c.vaccine_id,
        case((fresh, stock_batches.c.balance), else_=_ZERO).label("usable"),
        case((fresh, _ZERO), else_=stock_batches.c.balance).label("expired"),
        _ZERO.label("delivered"),
        _ZERO.label("administered"),
        _ZERO.label("discarded"),
        _ZERO.label("corrected"),
    ).where(IN_STOCK)
    flows = select(
        stock_days.c.unit_id,
        stock_days.c.care_provider_id,
        stock_days.c.vaccine_id,
        _ZERO,
        _ZERO,
        stock_days.c.delivered,
        stock_days.c.administered,
        stock_days.c.discarded,
        stock_days.c.corrected,
    ).where(stock_days.c.day >= days.first, stock_days.c.day <= days.last)
    rows = union_all(stock, flows).subquery("rows")
    keys: list[ColumnElement[Any]]
    group: list[ColumnElement[Any]]
    if by == "unit":
        keys = [rows.c.unit_id.label("key"), rows.c.care_provider_id]
        group = [rows.c.unit_id, rows.c.care_provider_id]
    elif by == "care_provider":
        keys = [rows.c.care_provider_id.label("key")]
        group = [rows.c.care_provider_id]
    else:
        keys = [literal(REGION).label("key")]
        group = []
    totals = (
        select(
            *keys,
            rows.c.vaccine_id,
            *(func.sum(rows.c[name]).label(name) for name in FIGURES),
        )
        .group_by(*group, rows.c.vaccine_id)
        .subquery("totals")
    )
    return (
        select(
            totals,
            func.coalesce(vaccines.c.name, totals.c.vaccine_id).label("vaccine_name"),
        )
        .select_from(totals.outerjoin(vaccines, vaccines.c.vaccine_id == totals.c.vaccine_id))
        .order_by(totals.c.key, "vaccine_name", totals.c.vaccine_id)
    )
