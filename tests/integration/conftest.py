"""Integration fixtures: a real herder master per test (or per module where stated)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.harness import Server

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sync", "event", "threaded", "gevent", "eventlet"])
def worker_class(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def server(worker_class: str) -> Iterator[Server]:
    with Server("-k", worker_class, "-w", "2") as srv:
        yield srv
