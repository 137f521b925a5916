"""Session fixtures shared by every test: the real Kafka and PostgreSQL, started once per run on
free ports and in a temporary directory, so a test run never touches a running local stack.
PostgreSQL runs without fsync there: the data is thrown away anyway."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vaccinera_contracts.topics import all_topics
from vaccinera_devstack import tokens
from vaccinera_devstack.infra import Infrastructure, Ports


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infrastructure]:
    base = tmp_path_factory.mktemp("infra")
    with Infrastructure(base, Ports.free(), topics=all_topics(), durable=False) as running:
        yield running


@pytest.fixture(scope="session")
def dev_keys(tmp_path_factory: pytest.TempPathFactory) -> tokens.DevKeys:
    return tokens.ensure_keys(tmp_path_factory.mktemp("keys"))
