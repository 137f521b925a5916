"""ID-2: the synthetic population register is deterministic, Östergötland-sized and shaped,
hides protected persons' names and addresses, and the cache in front of any register works."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from personnummer import personnummer

from vaccinera_identity.population import (
    CachedRegister,
    PopulationRegister,
    RegisteredPerson,
    SyntheticRegister,
)
from vaccinera_identity.population_data import MUNICIPALITIES

TODAY = date(2026, 11, 27)


@pytest.fixture(scope="module")
def register() -> SyntheticRegister:
    return SyntheticRegister(today=TODAY)


@pytest.fixture(scope="module")
def big_sample(register: SyntheticRegister) -> list[RegisteredPerson]:
    return register.sample(20_000, seed=7)


def _dates(register: SyntheticRegister) -> Iterator[date]:
    birth_date = register.earliest_birth_date
    while birth_date <= register.today:
        yield birth_date
        birth_date += timedelta(1)


def _age(birth_date: date) -> int:
    return (
        TODAY.year
        - birth_date.year
        - ((TODAY.month, TODAY.day) < (birth_date.month, birth_date.day))
    )


def _with_check_digit(first_eleven: str) -> str:
    return next(first_eleven + c for c in "0123456789" if personnummer.valid(first_eleven + c))


async def test_id2_register_is_deterministic(register: SyntheticRegister) -> None:
    other = SyntheticRegister(today=TODAY)
    sample = register.sample(200, seed=3)
    assert sample == other.sample(200, seed=3)
    assert sample != register.sample(200, seed=4)
    for person in sample[:50]:
        assert await register.lookup(person.identifier) == person
        assert await register.lookup(person.identifier) == person
        assert await other.lookup(person.identifier) == person


def test_id2_register_is_the_same_in_another_process(register: SyntheticRegister) -> None:
    # A different PYTHONHASHSEED proves nothing depends on hash() or process state.
    code = (
        "from datetime import date\n"
        "from vaccinera_identity.population import SyntheticRegister\n"
        "r = SyntheticRegister(today=date(2026, 11, 27))\n"
        "print(','.join(p.model_dump_json() for p in r.sample(20, seed=11)))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ",".join(p.model_dump_json() for p in register.sample(20, seed=11))


def test_id2_another_seed_gives_another_population() -> None:
    assert SyntheticRegister(seed="a").sample(20) != SyntheticRegister(seed="b").sample(20)


def test_id2_total_population_matches_the_municipalities(register: SyntheticRegister) -> None:
    municipalities = sum(m.population for m in MUNICIPALITIES)
    total = register.total_population()
    assert total >= 400_000
    assert abs(total - municipalities) / municipalities < 0.03
    assert total == sum(
        register.count_for(d) + register.count_for(d, coordination=True) for d in _dates(register)
    )


def test_id2_age_pyramid_is_realistic(register: SyntheticRegister) -> None:
    by_age: Counter[int] = Counter()
    for birth_date in _dates(register):
        by_age[_age(birth_date)] += register.count_for(birth_date)
    total = sum(by_age.values())
    assert 0.18 <= sum(by_age[a] for a in range(18)) / total <= 0.24
    assert 0.17 <= sum(n for a, n in by_age.items() if a >= 65) / total <= 0.23
    # Roughly flat up to 75, then tapering; nobody older than 105.
    assert all(0.009 <= by_age[a] / total <= 0.015 for a in range(75))
    assert by_age[90] < by_age[80] < by_age[70]
    assert max(by_age) == 105
    assert register.count_for(TODAY + timedelta(1)) == 0
    assert register.count_for(register.earliest_birth_date - timedelta(1)) == 0


def test_id2_every_municipality_appears_and_linkoping_is_largest(
    register: SyntheticRegister,
) -> None:
    sample = register.sample(2_000)
    counts = Counter(p.municipality_code for p in sample)
    assert set(counts) == {m.code for m in MUNICIPALITIES}
    assert counts.most_common(1)[0][0] == "0580"
    for person in sample:
        municipality = next(m for m in MUNICIPALITIES if m.code == person.municipality_code)
        assert person.municipality == municipality.name
        if person.address is not None:
            assert person.address.city == municipality.city
            code = int(person.address.postal_code.replace(" ", ""))
            assert municipality.postal_codes[0] <= code <= municipality.postal_codes[1]
            assert person.address.postal_code[3] == " "


def test_id2_persons_are_consistent_with_their_identifier(
    big_sample: list[RegisteredPerson],
) -> None:
    assert len({p.identifier for p in big_sample}) == len(big_sample)
    for person in big_sample:
        assert personnummer.valid(person.identifier)
        assert person.identifier[:8] == person.birth_date.strftime("%Y%m%d")
        assert person.sex == ("male" if int(person.identifier[10]) % 2 else "female")
    sexes = Counter(p.sex for p in big_sample)
    assert 0.47 < sexes["male"] / len(big_sample) < 0.53


def test_id2_protected_persons_are_few_and_have_no_name_or_address(
    register: SyntheticRegister, big_sample: list[RegisteredPerson]
) -> None:
    protected = [p for p in big_sample if p.protected]
    assert 0.003 <= len(protected) / len(big_sample) <= 0.008
    only_protected = register.sample(20, protected=True)
    for person in [*protected, *only_protected]:
        assert person.protected
        assert (person.given_name, person.family_name, person.address) == ("", "", None)
        assert person.municipality_code
    for person in big_sample:
        if not person.protected:
            assert person.given_name and person.family_name and person.address is not None
    assert not any(p.protected for p in register.sample(500, protected=False))


def test_id2_a_protected_person_cannot_be_built_with_a_name() -> None:
    with pytest.raises(ValueError, match="protected") as raised:
        RegisteredPerson(
            identifier="191212121212",
            given_name="Tolvan",
            family_name="Tolvansson",
            protected=True,
            address=None,
            municipality_code="0580",
            municipality="Linköping",
            birth_date=date(1912, 12, 12),
            sex="male",
        )
    assert "Tolvan" not in str(raised.value)  # the error would end up in a log


async def test_id2_samordningsnummer_holders_exist_and_can_be_looked_up(
    register: SyntheticRegister,
) -> None:
    holders = register.sample(50, coordination=True)
    assert len(holders) == 50
    for person in holders:
        assert int(person.identifier[6:8]) > 60
        assert await register.lookup(person.identifier) == person
        assert 0 <= _age(person.birth_date) <= 105
    holders_total = sum(register.count_for(d, coordination=True) for d in _dates(register))
    share = holders_total / sum(m.population for m in MUNICIPALITIES)
    assert 0.01 <= share <= 0.02
    assert sum(18 <= _age(p.birth_date) <= 70 for p in holders) >= 40


async def test_id2_identifier_for_lists_exactly_the_registered_persons(
    register: SyntheticRegister,
) -> None:
    birth_date = date(1980, 5, 17)
    count = register.count_for(birth_date)
    assert count > 5
    identifiers = [register.identifier_for(birth_date, rank) for rank in range(count)]
    assert len(set(identifiers)) == count
    for identifier in identifiers:
        assert identifier is not None
        person = await register.lookup(identifier)
        assert person is not None
        assert person.birth_date == birth_date
    assert register.identifier_for(birth_date, count) is None


async def test_id2_valid_personnummer_not_in_register_is_not_found(
    register: SyntheticRegister,
) -> None:
    birth_date = date(1975, 3, 9)
    count = register.count_for(birth_date)
    assert register.identifier_for(birth_date, count) is None
    taken = {register.identifier_for(birth_date, rank) for rank in range(count)}
    taken_numbers = {identifier[8:11] for identifier in taken if identifier}
    free = next(f"{n:03d}" for n in range(1, 1000) if f"{n:03d}" not in taken_numbers)
    unknown = _with_check_digit(f"19750309{free}")
    assert personnummer.valid(unknown)
    assert await register.lookup(unknown) is None
    # Persons born in the future or more than 105 years ago do not exist either.
    assert await register.lookup(_with_check_digit("20261231001")) is None
    assert await register.lookup(_with_check_digit("19100101001")) is None


async def test_id2_invalid_identifiers_are_not_found(register: SyntheticRegister) -> None:
    person = register.sample(1, seed=5)[0]
    check = int(person.identifier[-1])
    wrong_check = person.identifier[:-1] + str((check + 1) % 10)
    assert await register.lookup(wrong_check) is None
    for malformed in (
        person.identifier[2:],  # 10 digits
        f"{person.identifier[:8]}-{person.identifier[8:]}",
        person.identifier + "0",
        "",
        "abcdefghijkl",
        "19801332" + person.identifier[8:],  # no such date
    ):
        assert await register.lookup(malformed) is None


async def test_id2_today_decides_who_is_born(register: SyntheticRegister) -> None:
    earlier = SyntheticRegister(today=date(2010, 1, 1))
    newborn = next(p for p in register.sample(2_000) if p.birth_date > date(2015, 1, 1))
    assert await earlier.lookup(newborn.identifier) is None
    assert earlier.count_for(date(2015, 1, 1)) == 0


class _CountingRegister:
    def __init__(self, inner: PopulationRegister) -> None:
        self.inner = inner
        self.calls = 0

    async def lookup(self, identifier: str) -> RegisteredPerson | None:
        self.calls += 1
        return await self.inner.lookup(identifier)


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def test_id2_cached_register_serves_the_second_lookup_from_cache(
    register: SyntheticRegister,
) -> None:
    inner = _CountingRegister(register)
    cached = CachedRegister(inner, ttl_seconds=600, clock=_Clock())
    identifier = register.sample(1)[0].identifier
    first = await cached.lookup(identifier)
    second = await cached.lookup(identifier)
    assert first is not None
    assert second == first
    assert (cached.hits, cached.misses, inner.calls) == (1, 1, 1)


async def test_id2_cached_register_caches_misses_for_a_shorter_time(
    register: SyntheticRegister,
) -> None:
    clock = _Clock()
    inner = _CountingRegister(register)
    cached = CachedRegister(inner, ttl_seconds=600, miss_ttl_seconds=30, clock=clock)
    known = register.sample(1)[0].identifier
    unknown = register.identifier_for(date(1990, 1, 1), 0)
    assert unknown is not None
    unknown = unknown[:-1] + str((int(unknown[-1]) + 1) % 10)  # bad check digit

    assert await cached.lookup(unknown) is None
    assert await cached.lookup(unknown) is None
    assert (cached.hits, inner.calls) == (1, 1)

    await cached.lookup(known)
    clock.now += 31  # the miss has expired, the person has not
    assert await cached.lookup(unknown) is None
    assert await cached.lookup(known) is not None
    assert (cached.hits, cached.misses, inner.calls) == (2, 3, 3)

    clock.now += 600
    await cached.lookup(known)
    assert inner.calls == 4


async def test_id2_cached_register_evicts_the_least_recently_used(
    register: SyntheticRegister,
) -> None:
    inner = _CountingRegister(register)
    cached = CachedRegister(inner, max_entries=2, clock=_Clock())
    a, b, c = (p.identifier for p in register.sample(3, seed=9))
    await cached.lookup(a)
    await cached.lookup(b)
    await cached.lookup(a)  # a is now more recent than b
    await cached.lookup(c)  # evicts b
    assert len(cached) == 2
    await cached.lookup(a)
    assert inner.calls == 3
    await cached.lookup(b)
    assert inner.calls == 4
    cached.invalidate(b)
    await cached.lookup(b)
    assert inner.calls == 5
