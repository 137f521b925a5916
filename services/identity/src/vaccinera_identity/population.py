"""Population register (PU-tjänsten) behind an adapter, plus a synthetic register (ID-2).

Production calls the national service through an adapter implementing ``PopulationRegister``.
Development and tests use ``SyntheticRegister``: a register for Östergötlands län (~470,000
persons) that is a pure function of the identifier, so it needs no data file or database, costs
O(1) per lookup and gives the same answer in every process (blake2b, never ``hash()``).
The service streams it whole (``rows``) into its database at the first start and looks persons
up there (``population_store``), as it would the national register.

Existence rule: for each birth date d the register holds ``count_for(d)`` persons, derived from
an age pyramid; they are the first ``count_for(d)`` birth numbers of a permutation of 001-999
seeded by d. Everything else about a person (municipality, name, address, protected identity)
is drawn from a keyed hash of the identifier.

Nothing here logs: every value handled is personal data.

Over 400 lines on purpose: the adapter protocol, its cache and the synthetic register share
the person model, and the register's existence rule reads best in one place.
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from itertools import accumulate
from typing import Final, Literal, NamedTuple, Protocol

from personnummer import personnummer
from pydantic import BaseModel, ConfigDict, model_validator

from vaccinera_identity.population_data import (
    AGE_BANDS,
    COORDINATION_AGE_BANDS,
    FAMILY_NAMES,
    FEMALE_GIVEN_NAMES,
    MALE_GIVEN_NAMES,
    MUNICIPALITIES,
    Municipality,
)

DEFAULT_TODAY: Final = date(2026, 11, 27)
DEFAULT_SEED: Final = "vaccinera-synthetic-pu-v1"
MAX_AGE: Final = 105
COORDINATION_SHARE: Final = 0.015  # samordningsnummer holders, relative to the population
PROTECTED_SHARE: Final = 0.005  # skyddade personuppgifter

_BIRTH_NUMBERS: Final = 999  # 001-999; 000 is never issued
_U32: Final = 1 << 32


class Address(BaseModel):
    # Errors must not echo an address into a log.
    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    street: str
    postal_code: str  # "582 22"
    city: str


class RegisteredPerson(BaseModel):
    """A person as the population register returns them.

    A protected person (skyddade personuppgifter) comes without name and address; the
    validator makes it impossible for any adapter to hand one out with them.
    """

    model_config = ConfigDict(frozen=True, hide_input_in_errors=True)

    identifier: str  # canonical 12 digits, YYYYMMDDNNNC (day + 60 for samordningsnummer)
    given_name: str
    family_name: str
    protected: bool
    address: Address | None
    municipality_code: str  # "0580"
    municipality: str
    birth_date: date
    sex: Literal["female", "male"]

    @model_validator(mode="after")
    def _protected_has_no_name_or_address(self) -> RegisteredPerson:
        if self.protected and (self.given_name or self.family_name or self.address is not None):
            raise ValueError("a protected person must have no name and no address")
        return self


class PersonRow(NamedTuple):
    """A registered person as plain values, in the population table's column order."""

    identifier: str
    given_name: str
    family_name: str
    protected: bool
    street: str | None
    postal_code: str | None
    city: str | None
    municipality_code: str
    municipality: str
    birth_date: date
    sex: Literal["female", "male"]


def person_from_row(row: PersonRow) -> RegisteredPerson:
    return RegisteredPerson(
        identifier=row.identifier,
        given_name=row.given_name,
        family_name=row.family_name,
        protected=row.protected,
        address=(
            Address(street=row.street, postal_code=row.postal_code, city=row.city)
            if row.street is not None and row.postal_code is not None and row.city is not None
            else None
        ),
        municipality_code=row.municipality_code,
        municipality=row.municipality,
        birth_date=row.birth_date,
        sex=row.sex,
    )


class PopulationRegister(Protocol):
    async def lookup(self, identifier: str) -> RegisteredPerson | None:
        """The person holding a canonical 12-digit identifier, or None if not registered."""
        ...


class CachedRegister:
    """In-process LRU + TTL cache in front of any ``PopulationRegister``.

    The TTL is short by default because protected identity can be granted at any moment and
    must then stop being shown. Misses are cached for less time still: an unknown number is
    often a typing error that is fixed, or a person who is registered minutes later.
    """

    def __init__(
        self,
        inner: PopulationRegister,
        *,
        max_entries: int = 100_000,
        ttl_seconds: float = 900.0,
        miss_ttl_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._inner = inner
        self._max_entries = max_entries
        self._ttl = ttl_seconds
        self._miss_ttl = miss_ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, RegisteredPerson | None]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def lookup(self, identifier: str) -> RegisteredPerson | None:
        entry = self._entries.get(identifier)
        if entry is not None and entry[0] > self._clock():
            self._entries.move_to_end(identifier)
            self.hits += 1
            return entry[1]
        self.misses += 1
        person = await self._inner.lookup(identifier)
        ttl = self._ttl if person is not None else self._miss_ttl
        self._entries[identifier] = (self._clock() + ttl, person)
        self._entries.move_to_end(identifier)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
        return person

    def invalidate(self, identifier: str) -> None:
        """Forget one person, e.g. on a change notification from the register."""
        self._entries.pop(identifier, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class SyntheticRegister:
    """Deterministic synthetic register for Östergötlands län; see the module docstring."""

    def __init__(self, *, today: date = DEFAULT_TODAY, seed: str = DEFAULT_SEED) -> None:
        self.today = today
        self.seed = seed
        # A 64-byte key for keyed blake2b: another seed gives an unrelated population.
        self._key = hashlib.blake2b(seed.encode()).digest()
        self.earliest_birth_date = _last_birth_date_with_age(today, MAX_AGE + 1) + timedelta(1)
        population = sum(m.population for m in MUNICIPALITIES)
        self._per_day = (
            _expected_per_day(today, AGE_BANDS, population),
            _expected_per_day(today, COORDINATION_AGE_BANDS, population * COORDINATION_SHARE),
        )
        self._max_count = tuple(min(_BIRTH_NUMBERS, math.ceil(max(t))) for t in self._per_day)
        self._municipality_weights = _cumulative(m.population for m in MUNICIPALITIES)
        self._female = _cumulative(w for _, w in FEMALE_GIVEN_NAMES)
        self._male = _cumulative(w for _, w in MALE_GIVEN_NAMES)
        self._family = _cumulative(w for _, w in FAMILY_NAMES)
        # ~39k dates x 2 kinds; each entry is a short tuple, so caching all of them is cheap.
        self._birth_numbers = functools.lru_cache(maxsize=1 << 17)(self._compute_birth_numbers)

    async def lookup(self, identifier: str) -> RegisteredPerson | None:
        return self.lookup_sync(identifier)

    def lookup_sync(self, identifier: str) -> RegisteredPerson | None:
        """``lookup`` without the event loop, for scripts and demo data."""
        if len(identifier) != 12 or not (identifier.isascii() and identifier.isdigit()):
            return None
        if not personnummer.valid(identifier):  # Luhn check digit and a real date
            return None
        day = int(identifier[6:8])
        coordination = day > 60
        birth_date = date(
            int(identifier[:4]), int(identifier[4:6]), day - 60 if coordination else day
        )
        if int(identifier[8:11]) not in self._birth_numbers(birth_date, coordination):
            return None
        return self._person(identifier, birth_date, self._words(identifier))

    def count_for(self, birth_date: date, *, coordination: bool = False) -> int:
        """How many persons (or samordningsnummer holders) born on this date are registered."""
        if not self.earliest_birth_date <= birth_date <= self.today:
            return 0
        expected = self._per_day[coordination][_age(self.today, birth_date)]
        count = int(expected)
        fraction = expected - count
        # The fractional part becomes one more person on a hash-chosen share of the dates,
        # so the sum over all dates stays at the intended total.
        if fraction > 0:
            label = f"count|{int(coordination)}|{birth_date.isoformat()}"
            if self._u32(label) < fraction * _U32:
                count += 1
        return min(count, _BIRTH_NUMBERS)

    def total_population(self) -> int:
        """Everyone the register holds: personnummer and samordningsnummer holders."""
        total = 0
        birth_date = self.earliest_birth_date
        while birth_date <= self.today:
            total += self.count_for(birth_date) + self.count_for(birth_date, coordination=True)
            birth_date += timedelta(1)
        return total

    def identifier_for(
        self, birth_date: date, rank: int, *, coordination: bool = False
    ) -> str | None:
        """Identifier of the rank-th (0-based) registered person born on this date, if any."""
        if rank < 0:
            raise ValueError("rank must not be negative")
        numbers = self._birth_numbers(birth_date, coordination)
        if rank >= len(numbers):
            return None
        return _identifier(birth_date, numbers[rank], coordination)

    def sample(
        self,
        n: int,
        *,
        seed: int = 0,
        protected: bool | None = None,
        coordination: bool = False,
    ) -> list[RegisteredPerson]:
        """n distinct registered persons, uniformly drawn and the same for the same arguments.

        ``protected`` filters on protected identity (None: both); ``coordination`` picks
        samordningsnummer holders instead of personnummer holders.
        """
        if n < 0:
            raise ValueError("n must not be negative")
        span = (self.today - self.earliest_birth_date).days + 1
        max_count = self._max_count[coordination]
        # Rejection sampling over (date, rank < max_count) is uniform over persons.
        draws = self._stream(f"sample|{int(coordination)}|{seed}")
        seen: set[str] = set()
        found: list[RegisteredPerson] = []
        budget = 5_000 * n + 100_000
        while len(found) < n:
            budget -= 1
            if budget < 0:
                raise ValueError("the register holds too few persons matching the filter")
            birth_date = self.earliest_birth_date + timedelta((next(draws) * span) >> 32)
            rank = (next(draws) * max_count) >> 32
            identifier = self.identifier_for(birth_date, rank, coordination=coordination)
            if identifier is None or identifier in seen:
                continue
            seen.add(identifier)
            words = self._words(identifier)
            if protected is not None and _is_protected(words) != protected:
                continue
            found.append(self._person(identifier, birth_date, words))
        return found

    def rows(self) -> Iterator[PersonRow]:
        """Every registered person as a ``PersonRow``, in a fixed order (birth date, then
        personnummer before samordningsnummer holders): what the population table is loaded
        from. Builds no models, so the whole register streams in seconds."""
        birth_date = self.earliest_birth_date
        while birth_date <= self.today:
            for coordination in (False, True):
                # Uncached: one pass over every date would only fill the cache.
                for number in self._compute_birth_numbers(birth_date, coordination):
                    identifier = _identifier(birth_date, number, coordination)
                    yield self._row(identifier, birth_date, self._words(identifier))
            birth_date += timedelta(1)

    def _person(self, identifier: str, birth_date: date, words: Sequence[int]) -> RegisteredPerson:
        return person_from_row(self._row(identifier, birth_date, words))

    def _row(self, identifier: str, birth_date: date, words: Sequence[int]) -> PersonRow:
        municipality: Municipality = MUNICIPALITIES[_pick(self._municipality_weights, words[1])]
        male = int(identifier[10]) % 2 == 1  # the 9th digit of YYMMDDNNNC: odd means male
        protected = _is_protected(words)
        given_name = family_name = ""
        street = postal_code = city = None
        if not protected:  # a protected person has no name and no address (ID-3)
            given_names = MALE_GIVEN_NAMES if male else FEMALE_GIVEN_NAMES
            given_name = given_names[_pick(self._male if male else self._female, words[2])][0]
            family_name = FAMILY_NAMES[_pick(self._family, words[3])][0]
            name = municipality.streets[words[4] % len(municipality.streets)]
            street = f"{name} {1 + words[5] % 60}"
            first, last = municipality.postal_codes
            postal = first + words[6] % (last - first + 1)
            postal_code = f"{postal // 100} {postal % 100:02d}"
            city = municipality.city
        return PersonRow(
            identifier=identifier,
            given_name=given_name,
            family_name=family_name,
            protected=protected,
            street=street,
            postal_code=postal_code,
            city=city,
            municipality_code=municipality.code,
            municipality=municipality.name,
            birth_date=birth_date,
            sex="male" if male else "female",
        )

    def _compute_birth_numbers(self, birth_date: date, coordination: bool) -> tuple[int, ...]:
        """The first count_for(d) elements of d's permutation of 1..999.

        A partial Fisher-Yates shuffle: the prefix is exactly that of the full shuffle, but
        costs O(count) instead of O(999).
        """
        count = self.count_for(birth_date, coordination=coordination)
        stream = self._stream(f"perm|{int(coordination)}|{birth_date.isoformat()}")
        moved: dict[int, int] = {}  # position -> number, for positions already swapped
        chosen: list[int] = []
        for i in range(count):
            j = i + ((next(stream) * (_BIRTH_NUMBERS - i)) >> 32)
            chosen.append(moved.get(j, j + 1))
            moved[j] = moved.get(i, i + 1)
        return tuple(chosen)

    def _words(self, identifier: str) -> tuple[int, ...]:
        """Eight independent 32-bit values per identifier: the person's attributes."""
        return _split(self._digest(f"person|{identifier}", size=32))

    def _u32(self, label: str) -> int:
        return int.from_bytes(self._digest(label, size=4))

    def _stream(self, label: str) -> Iterator[int]:
        block = 0
        while True:
            yield from _split(self._digest(f"{label}|{block}"))
            block += 1

    def _digest(self, label: str, *, size: int = 64) -> bytes:
        return hashlib.blake2b(label.encode(), key=self._key, digest_size=size).digest()


def _is_protected(words: Sequence[int]) -> bool:
    return words[0] < PROTECTED_SHARE * _U32


def _split(digest: bytes) -> tuple[int, ...]:
    return tuple(int.from_bytes(digest[i : i + 4]) for i in range(0, len(digest), 4))


def _cumulative(weights: Iterator[int] | Sequence[int]) -> tuple[int, ...]:
    return tuple(accumulate(weights))


def _pick(cumulative: Sequence[int], word: int) -> int:
    """Index chosen with probability proportional to its weight, from a uniform 32-bit word."""
    return bisect_right(cumulative, (word * cumulative[-1]) >> 32)


def _age(today: date, birth_date: date) -> int:
    return (
        today.year
        - birth_date.year
        - ((today.month, today.day) < (birth_date.month, birth_date.day))
    )


def _last_birth_date_with_age(today: date, age: int) -> date:
    """The latest birth date whose holder is at least ``age`` years old on ``today``."""
    try:
        return today.replace(year=today.year - age)
    except ValueError:  # today is 29 February and that year is not a leap year
        return date(today.year - age, 2, 28)


def _expected_per_day(
    today: date, bands: Sequence[tuple[int, int, float]], total: float
) -> tuple[float, ...]:
    """Expected persons per birth date, by age: band weights spread evenly over their years
    and each year's share spread over the exact number of birth dates giving that age."""
    per_year = [0.0] * (MAX_AGE + 1)
    for first, last, weight in bands:
        for age in range(first, last + 1):
            per_year[age] = weight / (last - first + 1)
    scale = total / sum(per_year)
    return tuple(
        per_year[age]
        * scale
        / (_last_birth_date_with_age(today, age) - _last_birth_date_with_age(today, age + 1)).days
        for age in range(MAX_AGE + 1)
    )


def _identifier(birth_date: date, birth_number: int, coordination: bool) -> str:
    day = birth_date.day + 60 if coordination else birth_date.day
    body = f"{birth_date.year:04d}{birth_date.month:02d}{day:02d}{birth_number:03d}"
    return body + str(_luhn_check_digit(body[2:]))


def _luhn_check_digit(digits: str) -> int:
    """Check digit over YYMMDDNNN, as Skatteverket computes it."""
    total = 0
    for i, char in enumerate(digits):
        value = int(char) * (2 - i % 2)
        total += value - 9 if value > 9 else value
    return -total % 10
