from __future__ import annotations

from collections.abc import Iterator

import pytest

from vaccinera_devstack.infra import Infrastructure, Ports

TOPICS = ["devstack.test.events", "devstack.test.commands"]


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infrastructure]:
    base = tmp_path_factory.mktemp("devstack")
    with Infrastructure(base, Ports.free(), TOPICS, durable=False) as running:
        yield running
