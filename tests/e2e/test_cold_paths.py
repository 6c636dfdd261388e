"""What a cold process loads on each path, held as behaviour (`bench/front_door.py` measures how
long it takes; no test does).

- A fresh interpreter acknowledges a signed slash command, and the job it queued is answered,
  without loading pydantic, the settings model, the domain, the interactive listeners, the worker
  or any storage SDK but the queue's. Its first click then registers the interactive listeners
  (their modals need the grant and policy models) and queues the decision.
- A fresh worker runs a `reconcile` against the ARM emulator without loading the diagnosis, the
  address lookups, the egress lookup, the views or anything of Slack.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from azure.storage.queue import QueueClient

import function_app
from bot.ids import WITHDRAW
from tests.e2e.conftest import CHANNEL, DEV, World

pytestmark = pytest.mark.azurite

ROOT = Path(__file__).resolve().parents[2]
PASTE = (
    'Error response from daemon: Head "https://contosoprod.azurecr.io/v2/shop/api/manifests/1.4": '
    "denied: client with IP '20.61.12.7' is not allowed access. Refer "
    "https://aka.ms/acr/firewall to grant access."
)
GRANT = "01KJNS8W00A1B2C3D4E5F6G7H8"

_LOADED = """
import json, sys

def loaded(names):
    return sorted(n for n in names if any(m == n or m.startswith(n + ".") for m in sys.modules))
"""

_FRONT_DOOR = (
    _LOADED
    + """
import azure.functions as func
import function_app

def post(request):
    body, headers = request
    return function_app.slack_events.build().get_user_function()(
        func.HttpRequest(method="POST", url="http://localhost/api/slack/events",
                         headers=headers, body=body.encode())
    )

command, click, watched = json.loads(sys.argv[1])
report = {"command": post(command).status_code, "after_command": loaded(watched)}
report["click"] = post(click).status_code
report["after_click"] = loaded(watched)
print(json.dumps(report))
"""
)

_WORKER = (
    _LOADED
    + """
import azure.functions as func
import function_app
from bot import functions
from bot.runtime import Runtime
from sandbox.credentials import StaticTokenCredential

job, watched = json.loads(sys.argv[1])
# The emulator's Entra ID stand-in instead of DefaultAzureCredential; the rest from the
# environment, as a Function host builds it.
functions.install(Runtime(credential=StaticTokenCredential()))
function_app.work.build().get_user_function()(func.QueueMessage(id="m1", body=job.encode()))
print(json.dumps({"loaded": loaded(watched)}))
"""
)

#: Never loaded by acknowledging a slash command.
NOT_FOR_AN_ACK = [
    "pydantic",
    "pydantic_settings",
    "services.settings",
    "services.domain.grants",
    "services.domain.policy",
    "services.domain.failure",
    "services.diagnosis",
    "services.lookups",
    "services.flows",
    "bot.views.grants",
    "bot.views.requests",
    "bot.listeners.actions",
    "bot.listeners.views",
    "bot.listeners.egress",
    "bot.sealed",
    "bot.bus",
    "bot.handlers",
    "bot.notices",
    "azure.data",
    "azure.storage.blob",
    "azure.mgmt",
    "azure.identity",
]
#: Never loaded by a worker running a reconcile.
NOT_FOR_A_RECONCILE = [
    "services.diagnosis",
    "services.lookups",
    "services.directory",
    "services.flows.diagnose",
    "services.flows.egress",
    "services.domain.failure",
    "services.domain.egress",
    "services.domain.offers",
    "services.domain.access",
    "services.azure.egress",
    "services.azure.network",
    "services.azure.service_tags",
    "bot.views",
    "bot.notices",
    "bot.replies",
    "bot.handlers.diagnose",
    "slack_sdk",
    "slack_bolt",
    "azure.mgmt.network",
    "azure.mgmt.resourcegraph",
    "azure.mgmt.appcontainers",
    "azure.mgmt.web",
    "azure.mgmt.containerservice",
]


def _run(code: str, arg: object) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(arg)],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def _queued_kinds(world: World) -> list[str]:
    queue = QueueClient.from_connection_string(
        world.settings.storage.connection_string or "", function_app.JOB_QUEUE
    )
    return sorted(
        json.loads(base64.b64decode(str(m.content)))["kind"]
        for m in queue.peek_messages(max_messages=32)
    )


def test_a_cold_front_door_acks_a_command_without_pydantic_and_loads_listeners_on_a_click(
    world: World,
) -> None:
    command = world.client.slash_command("/acr-why", PASTE, user=DEV, channel=CHANNEL)
    click = world.client.block_action(
        WITHDRAW,
        user=DEV,
        message={"ts": "1767000000.000100", "blocks": []},
        channel=CHANNEL,
        value=GRANT,
    )
    requests = [[r.body, dict(r.headers)] for r in (command, click)]

    report = _run(_FRONT_DOOR, [*requests, NOT_FOR_AN_ACK])

    assert report["command"] == 200
    assert report["after_command"] == []
    assert report["click"] == 200
    # The click's listeners came in with their models; still no worker and no other SDK.
    assert {"bot.listeners.actions", "pydantic"} <= set(report["after_click"])
    assert not {"bot.bus", "bot.handlers", "services.flows", "azure.data", "azure.mgmt"} & set(
        report["after_click"]
    )
    assert _queued_kinds(world) == ["decide", "diagnose"]
    # The jobs are those a warm process would have queued: the worker answers the command with
    # its card (and the click on a grant it does not know with a refusal).
    world.run_jobs()
    answers = [json.dumps(c.params.get("blocks")) for c in world.slack.calls("response_url")]
    assert [a for a in answers if "refused this address" in a and "20.61.12.7" in a]


def test_a_cold_worker_reconciles_without_the_diagnosis_the_views_or_slack(world: World) -> None:
    job = json.dumps({"kind": "reconcile", "registry": "contosoprod.azurecr.io", "check": True})

    report = _run(_WORKER, [job, NOT_FOR_A_RECONCILE])

    assert report["loaded"] == []
    # It ran: the registry was read under its lock, and nothing needed writing.
    kinds = [r.kind for r in world.arm.requests]
    assert "get_registry" in kinds
    assert "patch_registry" not in kinds
