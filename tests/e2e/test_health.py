"""`GET /api/health` through `function_app`'s own function: Azurite up (200 and the queue's
backlog), storage refusing or never answering (503 within the configured budget), settings that
do not load (503), and nothing sensitive in any answer."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

import function_app
from bot import functions
from bot.runtime import Runtime
from services.domain.jobs import ReconcileJob
from services.settings import Settings
from tests.e2e.conftest import DEV, World

pytestmark = pytest.mark.azurite

ROOT = Path(__file__).resolve().parents[2]


def get_health() -> tuple[int, dict[str, Any], func.HttpResponse]:
    function = function_app.health.build().get_user_function()
    response: func.HttpResponse = function(
        func.HttpRequest(method="GET", url="http://localhost/api/health", body=b"")
    )
    return response.status_code, json.loads(response.get_body()), response


def unreachable_storage(port: int) -> str:
    return (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        "AccountKey=c2VjcmV0LWtleS1mb3ItaGVhbHRoLXRlc3Q=;"
        f"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
        f"QueueEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
        f"TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield int(server.getsockname()[1])


def install(settings: Settings) -> None:
    functions.install(Runtime(settings))


@pytest.fixture
def clean_install() -> Iterator[None]:
    yield
    functions.install(None)


def assert_reveals_nothing(body: dict[str, Any], *secrets: str) -> None:
    text = json.dumps(body)
    for secret in secrets:
        assert secret not in text
    assert set(body) == {"status", "version", "checks"}


def test_healthy_storage_answers_200_with_the_backlog_and_the_version(world: World) -> None:
    for attempt in range(3):
        world.runtime.jobs.send(ReconcileJob(registry="contosoprod.azurecr.io", attempt=attempt))

    status, body, response = get_health()

    assert status == 200
    assert body["status"] == "ok"
    assert body["version"] == "0.1.0"
    assert set(body["checks"]) == {"tables", "queue", "poison", "service_tags"}
    assert all(check["ok"] for check in body["checks"].values())
    # No refresh has stored any yet: the file from the settings is in use.
    assert body["checks"]["service_tags"]["source"] == "file"
    assert body["checks"]["queue"]["backlog"] == 3
    assert body["checks"]["poison"]["backlog"] == 0
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "application/json"
    assert_reveals_nothing(
        body,
        "contosoprod",
        "AccountKey",
        "devstoreaccount1",
        "127.0.0.1",
        world.slack.team_id,
        DEV,
        world.settings.table_prefix,
        "xoxb",
    )


def test_the_build_id_follows_the_package_version(world: World) -> None:
    install(world.settings.model_copy(update={"build": "20260101.3"}))

    _, body, _ = get_health()

    assert body["version"] == "0.1.0+20260101.3"


def test_refused_storage_answers_503_at_once(closed_port: int, clean_install: None) -> None:
    install(Settings(storage_connection_string=unreachable_storage(closed_port)))

    started = time.monotonic()
    status, body, _ = get_health()
    elapsed = time.monotonic() - started

    assert status == 503
    assert body["status"] == "degraded"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "tables": False,
        "queue": False,
        "poison": False,
        "service_tags": False,
    }
    # The class name only: the SDK's message would name the endpoint.
    assert {check["error"] for check in body["checks"].values()} == {"ServiceRequestError"}
    assert elapsed < 3.0  # one refused connection each, no retries
    assert_reveals_nothing(body, "AccountKey", "devstoreaccount1", str(closed_port))


def test_storage_that_never_answers_is_given_up_on_within_the_budget(
    black_hole: int, clean_install: None
) -> None:
    install(
        Settings(
            storage_connection_string=unreachable_storage(black_hole), health_timeout_seconds=0.5
        )
    )

    started = time.monotonic()
    status, body, _ = get_health()
    elapsed = time.monotonic() - started

    assert status == 503
    assert not any(check["ok"] for check in body["checks"].values())
    # The budget ran out first, or the SDK's own read time-out (the same budget) did.
    assert {check["error"] for check in body["checks"].values()} <= {
        "Timeout",
        "ServiceResponseError",
        "ServiceResponseTimeoutError",
    }
    assert elapsed < 2.0
    assert_reveals_nothing(body, "AccountKey", str(black_hole))


def test_settings_that_do_not_load_answer_503_without_their_text(
    monkeypatch, clean_install: None
) -> None:
    functions.install(None)
    monkeypatch.setenv("ACRBOT_KNOWN_IPS", '{"secret-looking-label": "x"}')

    status, body, _ = get_health()

    assert status == 503
    assert body["checks"] == {"settings": {"ok": False, "ms": 0, "error": "ValidationError"}}
    assert "secret-looking-label" not in json.dumps(body)


_COLD = """
import json, sys
import azure.functions as func
import function_app
fn = function_app.health.build().get_user_function()
response = fn(func.HttpRequest(method="GET", url="http://localhost/api/health", body=b""))
loaded = sorted(
    name for name in ("azure.mgmt", "azure.identity", "azure.storage.blob", "slack_bolt",
                      "opentelemetry", "azure.monitor")
    if any(m == name or m.startswith(name + ".") for m in sys.modules)
)
print(json.dumps({"status": response.status_code, "loaded": loaded}))
"""


def test_the_health_route_loads_only_the_storage_sdks(azurite_connection_string: str) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ACRBOT_", "APPLICATIONINSIGHTS"))
    }
    env["AzureWebJobsStorage"] = azurite_connection_string
    env["ACRBOT_SERVICE_TAGS__FILE"] = str(ROOT / "examples" / "service-tags.json")
    result = subprocess.run(
        [sys.executable, "-c", _COLD],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    answer = json.loads(result.stdout.strip().splitlines()[-1])

    assert answer == {"status": 200, "loaded": []}


def _status_row(world: World, fetched: datetime) -> None:
    from services.azure.clients import table_service

    table = table_service(world.settings.storage).create_table_if_not_exists(
        f"{world.settings.table_prefix}status"
    )
    table.upsert_entity(
        {
            "PartitionKey": "service-tags",
            "RowKey": "stored",
            "fetchedAt": fetched.isoformat(),
            "changeNumber": "341",
        }
    )


def test_the_service_tags_age_and_source_are_reported(world: World) -> None:
    _status_row(world, datetime.now(UTC) - timedelta(hours=20))
    status, body, _ = get_health()
    assert status == 200
    tags = body["checks"]["service_tags"]
    assert tags["source"] == "stored"
    assert 19.9 <= tags["age_hours"] <= 20.1


def test_stale_or_missing_service_tags_degrade_the_health(world: World, monkeypatch) -> None:
    # Without trusted tags the bot offers no temporary rule for public addresses: that is an
    # outage of the bot's main job, so the route (and its availability alert) says so.
    _status_row(world, datetime.now(UTC) - timedelta(days=9))
    status, body, _ = get_health()
    assert status == 503
    assert body["checks"]["service_tags"]["error"] == "ServiceTagsUnusable (Stale216h)"

    install(
        world.settings.model_copy(
            update={
                "table_prefix": world.settings.table_prefix + "x",
                "service_tags": world.settings.service_tags.model_copy(update={"file": None}),
            }
        )
    )
    status, body, _ = get_health()
    assert status == 503
    assert body["checks"]["service_tags"]["error"] == "ServiceTagsUnusable (NoneStored)"
