"""The whole platform (six services and the gateway as real processes) for end-to-end tests,
on the session's Kafka and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from vaccinera_contracts.roles import Role
from vaccinera_devstack import tokens
from vaccinera_devstack.infra import Infrastructure
from vaccinera_devstack.platform import Platform, PlatformPorts
from vaccinera_kit.database import plain_url


@pytest.fixture(scope="session")
def platform(infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    base = tmp_path_factory.mktemp("platform")
    ports = PlatformPorts.free()
    ports.infra = infra.ports
    running = Platform(base, ports, spans_dir=base / "spans", shared_infra=infra)
    with running:
        yield running


@pytest.fixture(scope="session")
def nurse_headers(platform: Platform) -> dict[str, str]:
    return staff_headers(platform, Role.NURSE)


def staff_headers(platform: Platform, role: Role, unit_id: str = "unit-centrum") -> dict[str, str]:
    """A staff member holding one assignment: ``role`` at ``unit_id``."""
    return {"authorization": f"Bearer {tokens.staff_token(platform.keys, role, unit_id=unit_id)}"}


def citizen_headers(platform: Platform, personnummer: str) -> dict[str, str]:
    token = tokens.mint(platform.keys, tokens.citizen_claims(personnummer))
    return {"authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
async def gw(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the gateway."""
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
async def journal_db(platform: Platform) -> AsyncIterator[asyncpg.Connection]:
    """The journal's own database: to wait for a batch to arrive and to let time pass."""
    conn = await asyncpg.connect(plain_url(platform.infra.database_url("journal")))
    yield conn
    await conn.close()
