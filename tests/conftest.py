"""Shared fixtures: one Azurite per test process (each pytest-xdist worker starts its own), a
loopback-only network, a clean environment, a frozen clock."""

from __future__ import annotations

import ipaddress
import os
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.azurite import Azurite
from services.clock import FrozenClock


def pytest_configure(config: pytest.Config) -> None:
    # Under pytest-xdist each worker process names its own job queue, before anything imports
    # function_app (it reads the name once, as the Functions host does): workers sharing one
    # Azurite (ACRBOT_TEST_AZURITE) then never take, or clear, each other's jobs.
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        os.environ["ACRBOT_QUEUE_NAME"] = f"acrbot-jobs-{worker}"


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _require_loopback(sock: socket.socket, address: Any) -> None:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = str(address[0]).split("%", 1)[0]
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConnectionRefusedError(f"tests may only reach loopback addresses, not {host!r}")


def _guarded_connect(sock: socket.socket, address: Any) -> None:
    _require_loopback(sock, address)
    _real_connect(sock, address)


def _guarded_connect_ex(sock: socket.socket, address: Any) -> int:
    _require_loopback(sock, address)
    return _real_connect_ex(sock, address)


@pytest.fixture(autouse=True, scope="session")
def _loopback_only() -> Iterator[None]:
    """Nothing in a test may reach an address outside 127.0.0.0/8 (or ::1): fail loudly if so."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def azurite_connection_string() -> Iterator[str]:
    """Azurite started once per test process on free loopback ports (or one given by env, which
    every xdist worker then shares: tests name their tables, queues and containers uniquely)."""
    given = os.environ.get("ACRBOT_TEST_AZURITE")
    if given:
        yield given
        return
    with Azurite() as azurite:
        yield azurite.connection_string


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def unique_name() -> str:
    """A short name safe for tables, queues and containers, unique to one test."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start from no ACRBOT_ settings so the developer's shell cannot leak in, except that
    Slack's retries back off for no time: a test that plays Slack's failures waits for nothing."""
    for key in list(os.environ):
        if (
            key.startswith("ACRBOT_") and key != "ACRBOT_TEST_AZURITE"
        ) or key == "AzureWebJobsStorage":
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ACRBOT_SLACK_RETRY_BACKOFF", "0")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # Each crash-everywhere shard records its job type's requests and the kill points it ran.
    figures = [
        value
        for report in terminalreporter.stats.get("passed", [])
        for name, value in getattr(report, "user_properties", [])
        if name == "crash_figure"
    ]
    if not figures:
        return
    steps = {figure["job"]: figure["steps"] for figure in figures}
    points = {job: sum(f["points"] for f in figures if f["job"] == job) for job in steps}
    terminalreporter.write_sep("-", "crash everywhere")
    for job in sorted(steps):
        terminalreporter.write_line(f"{job}: {steps[job]} requests, {points[job]} kill points")
    terminalreporter.write_line(
        f"{sum(points.values())} kill points in {len(steps)} job types, each run killed and "
        "converged (a kill before a read or after a send is the same as one of these)"
    )
