"""The daily service-tag timer through `function_app`: it fetches the tags from the ARM emulator
and stores them in Azurite, and the next diagnosis names the Azure service behind a refused IP;
a refused fetch fails the invocation and keeps what was stored. Its schedule comes from
`ACRBOT_SERVICE_TAGS__SCHEDULE`, read when the host indexes the app."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from azure.functions.timer import TimerRequest

import function_app
from bot import functions
from bot.runtime import Runtime
from sandbox.arm_network import NetworkResources
from services.azure.service_tags import ServiceTagsRefreshError, ServiceTagStore
from services.settings import ServiceTagSettings
from tests.e2e import conftest as e2e
from tests.e2e.conftest import CHANNEL, DEV, World
from tests.sandbox_helpers import SUBSCRIPTION, StaticTokenCredential

pytestmark = pytest.mark.azurite

ROOT = Path(__file__).resolve().parents[2]
#: The end-to-end fixture (Azurite, the emulators, a runtime installed), under its own name here.
e2e_world = e2e.world

TAGS = [
    {
        "name": "AzureContainerApps.WestEurope",
        "id": "AzureContainerApps.WestEurope",
        "properties": {
            "changeNumber": "7",
            "region": "westeurope",
            "systemService": "AzureContainerApps",
            "addressPrefixes": ["20.103.186.0/24"],
        },
    }
]
PASTE = (
    'Failed to pull image "contosoprod.azurecr.io/shop/api:1.4": denied: client with IP '
    "'20.103.186.69' is not allowed access. Refer https://aka.ms/acr/firewall to grant access."
)


def timer() -> None:
    function_app.refresh_service_tags.build().get_user_function()(TimerRequest(past_due=False))


@pytest.fixture
def world(e2e_world: World, unique_name: str) -> World:
    """The end-to-end world, its runtime configured for the daily refresh."""
    NetworkResources().attach(e2e_world.arm).set_service_tags(TAGS, change_number="7")
    settings = e2e_world.settings.model_copy(
        update={
            "data_container": f"{unique_name}-data",
            "service_tags": ServiceTagSettings(
                locations=("westeurope",), subscription_id=SUBSCRIPTION
            ),
        }
    )
    runtime = Runtime(settings, credential=StaticTokenCredential())
    functions.install(runtime)
    e2e_world.runtime, e2e_world.settings = runtime, settings
    return e2e_world


def test_the_timer_stores_the_tags_and_the_diagnosis_names_the_service(world: World) -> None:
    timer()

    stored = ServiceTagStore.from_settings(world.settings).load()
    assert stored is not None
    assert stored["changeNumber"] == "7"
    assert [r.path for r in world.arm.requests if "serviceTags" in r.path] == [
        f"/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Network/locations/westeurope/serviceTags"
    ]

    world.post(world.client.slash_command("/acr-why", PASTE, user=DEV, channel=CHANNEL))
    world.run_jobs()
    [answer] = world.slack.calls("response_url")
    assert "AzureContainerApps" in json.dumps(answer.params["blocks"])


def test_a_start_finds_fresh_tags_and_does_not_fetch_again(world: World) -> None:
    timer()
    timer()  # the postdeploy hook asks again within twelve hours
    assert len([r for r in world.arm.requests if "serviceTags" in r.path]) == 1


def _stored_yesterday(world: World) -> None:
    from datetime import UTC, datetime, timedelta

    from services.azure.clients import table_service

    table = table_service(world.settings.storage).get_table_client(
        f"{world.settings.table_prefix}status"
    )
    row = dict(table.get_entity("service-tags", "stored"))
    row["fetchedAt"] = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    table.upsert_entity(row)


def test_a_refused_fetch_fails_the_invocation_and_keeps_the_stored_tags(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    timer()
    _stored_yesterday(world)
    world.arm.inject(
        "other",
        status=403,
        code="AuthorizationFailed",
        message="does not have authorization to perform action "
        "'Microsoft.Network/locations/serviceTags/read'",
    )

    with caplog.at_level(logging.ERROR), pytest.raises(ServiceTagsRefreshError):
        timer()

    assert "service tag refresh failed" in caplog.text
    assert "serviceTags/read" in caplog.text
    stored = ServiceTagStore.from_settings(world.settings).load()
    assert stored is not None
    assert stored["changeNumber"] == "7"


_SCHEDULE = """
import function_app
[binding] = function_app.refresh_service_tags.build().get_bindings()
print(binding.get_dict_repr()["schedule"])
"""


@pytest.mark.parametrize(
    ("value", "expected"), [(None, "0 30 3 * * *"), ("0 0 5 * * 1", "0 0 5 * * 1")]
)
def test_the_schedule_comes_from_its_setting(value: str | None, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACRBOT_")}
    if value is not None:
        env["ACRBOT_SERVICE_TAGS__SCHEDULE"] = value
    result = subprocess.run(
        [sys.executable, "-c", _SCHEDULE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == expected


def test_the_timer_does_not_run_on_every_host_start() -> None:
    # A host starts on every wake and scale-out, beside a cold acknowledgement; a deployment's
    # first refresh comes from the postdeploy hook (tests/infra/test_hooks.py).
    [binding] = function_app.refresh_service_tags.build().get_bindings()
    assert binding.get_dict_repr()["runOnStartup"] is False
    hook = (ROOT / "infra" / "hooks" / "postdeploy.sh").read_text(encoding="utf-8")
    assert "/admin/functions/refresh_service_tags" in hook
