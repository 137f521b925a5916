from __future__ import annotations

from collections.abc import Iterator

import pytest

from vaccinera_devstack.infra import Infrastructure, Ports

TOPICS = ["devstack.test.events", "devstack.test.commands"]


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infrastructure]:
    with Infrastructure(tmp_path_factory.mktemp("devstack"), Ports.free(), TOPICS) as running:
        yield running
