"""Telemetry in a running app: a paste and a token fed through the worker never reach the logs;
without `APPLICATIONINSIGHTS_CONNECTION_STRING` nothing of OpenTelemetry is imported; with it
(pointed at a loopback stand-in for Application Insights' ingestion endpoint) it is imported only
once the runtime exists, and what it exports carries the fields and no secret."""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot import telemetry
from tests.e2e import conftest as e2e
from tests.e2e.conftest import CHANNEL, DEV, World

pytestmark = pytest.mark.azurite

#: The end-to-end fixture (Azurite, the emulators, a runtime installed), under its own name here.
e2e_world = e2e.world

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
MARKER = "MARKER-5e1f0c"
PASTE = (
    f"{MARKER} $ docker pull contosoprod.azurecr.io/shop/api:1.4 (with {TOKEN})\n"
    "Error response from daemon: denied: client with IP '20.61.12.7' is not allowed access. "
    "Refer https://aka.ms/acr/firewall to grant access."
)


@pytest.fixture
def json_root() -> Iterator[io.StringIO]:
    """The process as `configure` leaves it with ACRBOT_LOG_FORMAT=json."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    telemetry.install_records([TOKEN])
    telemetry.use_json_logs()
    try:
        yield stream
    finally:
        telemetry.reset_for_tests()
        root.removeHandler(handler)


def test_a_paste_and_a_token_never_reach_the_logs_on_the_worker_path(
    e2e_world: World, json_root: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    world = e2e_world
    caplog.set_level(logging.INFO)
    response = world.post(world.client.slash_command("/acr-why", PASTE, user=DEV, channel=CHANNEL))
    assert response.status_code == 200
    # Two messages that are not jobs, carrying a short paste: the kind the worker drops.
    queue = world.runtime.jobs.client
    queue.send_message(json.dumps({"kind": "diagnose", "text": f"{MARKER} {TOKEN}"}))
    queue.send_message(f"{MARKER} {TOKEN}")

    world.run_jobs()

    messages = [record.getMessage() for record in caplog.records]
    assert any("dropped a queue message that is not a job" in m for m in messages)
    for message in messages:
        assert MARKER not in message
        assert TOKEN not in message
    written = json_root.getvalue()
    assert MARKER not in written
    assert TOKEN not in written
    lines = [json.loads(line) for line in written.splitlines()]
    [handled] = [
        line for line in lines if line["logger"] == "bot.telemetry" and "paste_chars" in line
    ]
    assert handled["message"].startswith("job diagnose handled in")
    assert handled["slack_user"] == DEV
    assert handled["slack_team"] == world.slack.team_id
    assert handled["paste_chars"] == len(PASTE)
    assert handled["paste_sha256"] == telemetry.paste_fields(PASTE)["paste_sha256"]
    assert handled["job_id"]
    dropped = [line for line in lines if "not a job" in str(line["message"])]
    assert [line.get("job_kind") for line in dropped] == ["diagnose", None]


# -- OpenTelemetry, each in its own process --------------------------------------------------

_GUARD = """
import socket
from tests.conftest import _guarded_connect, _guarded_connect_ex
socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex
"""

_PROBE = (
    _GUARD
    + """
import json, logging, sys

def loaded():
    return sorted(
        name for name in ("opentelemetry", "azure.monitor")
        if any(m == name or m.startswith(name + ".") for m in sys.modules)
    )

import function_app
from bot import functions, telemetry
report = {"after_import": loaded()}
functions.runtime()
report["after_runtime"] = loaded()
body = json.dumps({"kind": "reconcile", "registry": "contosoprod.azurecr.io"})
with telemetry.job(body, "msg-41"):  # the first invocation starts it, beside the job
    pass
report["ready"] = telemetry.wait(30)
report["after_first_job"] = loaded()
report["enabled"] = telemetry.enabled()
report["error"] = telemetry.setup_error()
if telemetry.enabled():
    with telemetry.job(body, "msg-42"):
        logging.getLogger("bot.worker").info("reconcile with %s", sys.argv[1])
    logging.getLogger("azure.core.pipeline").warning("not ours, not exported")
    telemetry.flush()
print(json.dumps(report))
"""
)


def run_probe(env_extra: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ACRBOT_", "APPLICATIONINSIGHTS", "PYTHON_APPLICATIONINSIGHTS"))
    }
    env.update(
        {
            # Nothing but the ingestion endpoint: no SDK statistics, no remote configuration,
            # no cloud metadata probes (the guard above refuses them anyway).
            "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
            "APPLICATIONINSIGHTS_SDKSTATS_DISABLED": "true",
            "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
            "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "azure_app_service",
            # Every span: the default rate-limited sampler may skip the first ones of a process.
            "OTEL_TRACES_SAMPLER": "always_on",
            "TMPDIR": str(tmp_path),
            "ACRBOT_SLACK_BOT_TOKEN": TOKEN,
            **env_extra,
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, TOKEN],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_without_the_connection_string_nothing_of_opentelemetry_is_loaded(tmp_path: Path) -> None:
    report = run_probe({}, tmp_path)

    assert report == {
        "after_import": [],
        "after_runtime": [],
        "ready": True,
        "after_first_job": [],
        "enabled": False,
        "error": None,
    }


class Ingestion:
    """A loopback stand-in for Application Insights' `/v2.1/track`: keeps every envelope."""

    def __init__(self) -> None:
        self.envelopes: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                outer.raw.append(body)
                items = json.loads(body)
                outer.envelopes.extend(items)
                answer = json.dumps(
                    {"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def connection_string(self) -> str:
        port = self.server.server_address[1]
        return (
            "InstrumentationKey=00000000-0000-0000-0000-0000000000aa;"
            f"IngestionEndpoint=http://127.0.0.1:{port}/"
        )

    def of_type(self, base_type: str) -> list[dict[str, Any]]:
        return [e["data"]["baseData"] for e in self.envelopes if e["data"]["baseType"] == base_type]


@pytest.fixture
def ingestion() -> Iterator[Ingestion]:
    stand_in = Ingestion()
    stand_in.thread.start()
    try:
        yield stand_in
    finally:
        stand_in.server.shutdown()
        stand_in.server.server_close()


def test_with_the_connection_string_telemetry_starts_with_the_runtime_and_exports_fields(
    ingestion: Ingestion, tmp_path: Path
) -> None:
    report = run_probe(
        {"APPLICATIONINSIGHTS_CONNECTION_STRING": ingestion.connection_string}, tmp_path
    )

    assert report["after_import"] == []  # importing function_app costs nothing of it
    assert report["after_runtime"] == []  # nor building the runtime
    assert report["ready"] is True
    assert report["error"] is None
    assert report["enabled"] is True
    assert report["after_first_job"] == ["azure.monitor", "opentelemetry"]

    logs = {m["message"]: m.get("properties", {}) for m in ingestion.of_type("MessageData")}
    assert "reconcile with ***" in logs
    assert logs["reconcile with ***"]["registry"] == "contosoprod.azurecr.io"
    assert logs["reconcile with ***"]["job_id"] == "msg-42"
    assert any(m.startswith("job reconcile handled") for m in logs)
    assert not any("not ours" in m for m in logs)
    spans = [d["name"] for d in ingestion.of_type("RemoteDependencyData")]
    spans += [d["name"] for d in ingestion.of_type("RequestData")]
    assert "acrbot.work" in spans
    metrics = {m["name"] for d in ingestion.of_type("MetricData") for m in d["metrics"]}
    assert "acrbot.jobs" in metrics
    assert all(TOKEN.encode() not in body for body in ingestion.raw)


_WORKER_PROBE = (
    _GUARD
    + """
import json, logging, sys
from azure.monitor.opentelemetry import configure_azure_monitor

# What the Functions Python worker does itself with PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true
# (the template sets it), before it imports the app.
configure_azure_monitor(logger_name="")
from opentelemetry import trace

import function_app
from bot import functions, telemetry
functions.runtime()
body = json.dumps({"kind": "reconcile", "registry": "contosoprod.azurecr.io"})
with telemetry.job(body, "msg-41"):
    pass
report = {"ready": telemetry.wait(30), "enabled": telemetry.enabled(),
          "error": telemetry.setup_error()}
url = "https://hooks.slack.com/actions/T0123/4567/response-url-credential"
with trace.get_tracer("probe").start_as_current_span(
    "POST", kind=trace.SpanKind.CLIENT,
    attributes={"url.full": url, "http.request.method": "POST"},
):
    pass
with telemetry.job(body, "msg-42"):
    logging.getLogger("bot.worker").info("reconcile exported once")
telemetry.flush()
print(json.dumps(report))
"""
)


def test_when_the_worker_exports_the_app_adds_its_scrubber_and_no_second_copy(
    ingestion: Ingestion, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.modules[__name__], "_PROBE", _WORKER_PROBE)

    report = run_probe(
        {
            "APPLICATIONINSIGHTS_CONNECTION_STRING": ingestion.connection_string,
            "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "true",
        },
        tmp_path,
    )

    assert report == {"ready": True, "enabled": True, "error": None}
    messages = [m["message"] for m in ingestion.of_type("MessageData")]
    assert messages.count("reconcile exported once") == 1
    targets = [str(d.get("data", "")) for d in ingestion.of_type("RemoteDependencyData")]
    assert "https://hooks.slack.com/***" in targets
    assert all(b"response-url-credential" not in body for body in ingestion.raw)
