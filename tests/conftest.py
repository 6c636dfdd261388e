"""Shared fixtures: one Azurite for the whole run, a clean environment, a frozen clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from sandbox.azurite import Azurite
from services.clock import FrozenClock


@pytest.fixture(scope="session")
def azurite_connection_string() -> Iterator[str]:
    """Azurite started once per test session on free loopback ports (or one given by env)."""
    given = os.environ.get("ACRBOT_TEST_AZURITE")
    if given:
        yield given
        return
    with Azurite() as azurite:
        yield azurite.connection_string


@pytest.fixture
def unique_name() -> str:
    """A short name safe for tables, queues and containers, unique to one test."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start from no ACRBOT_ settings so the developer's shell cannot leak in."""
    for key in list(os.environ):
        if (
            key.startswith("ACRBOT_") and key != "ACRBOT_TEST_AZURITE"
        ) or key == "AzureWebJobsStorage":
            monkeypatch.delenv(key, raising=False)
