"""End-to-end: signed Slack requests into `function_app`'s own functions, jobs through Azurite's
queue into the queue function, the ARM and Slack Web API emulators on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

import function_app
from bot import functions
from bot.runtime import Runtime
from sandbox.arm_emulator import ArmEmulator
from sandbox.functions_host import FunctionsHost
from sandbox.slack_client import SlackClient
from sandbox.slack_emulator import SlackEmulator
from services.clock import FrozenClock, SystemClock
from services.settings import Settings
from tests.sandbox_helpers import (
    MANIFEST_SCOPES,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    StaticTokenCredential,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECRET = "e2e-signing-secret"
TOKEN = "xoxb-e2e-token"
DEV, APPROVER, APPROVER_2 = "U0DEV", "U0APPROVER", "U0APPROVER2"
CHANNEL, APPROVALS = "C0BUILD", "C0APPROVALS"


@dataclass
class World:
    slack: SlackEmulator
    client: SlackClient
    arm: ArmEmulator
    host: FunctionsHost
    runtime: Runtime
    settings: Settings

    def post(self, request):
        return self.host.http(request.to_azure())

    def run_jobs(self, **kwargs):
        return self.host.run_queue(**kwargs)


@contextmanager
def make_world(
    azurite_connection_string: str,
    unique_name: str,
    monkeypatch,
    env_extra: dict[str, str] | None = None,
    **registry: object,
) -> Iterator[World]:
    with (
        SlackEmulator(bot_token=TOKEN, clock=SystemClock(), scopes=MANIFEST_SCOPES) as slack,
        ArmEmulator() as arm,
    ):
        for user, name in ((DEV, "dev"), (APPROVER, "approver"), (APPROVER_2, "approver2")):
            slack.add_user(user, name)
        slack.add_channel(CHANNEL, "build", members=[DEV, APPROVER], bot_is_member=True)
        slack.add_channel(
            APPROVALS, "acr-approvals", members=[APPROVER, APPROVER_2], bot_is_member=True
        )
        arm.add_registry(SUBSCRIPTION, RESOURCE_GROUP, "contosoprod", rules=["4.175.12.34"])
        env = {
            "AzureWebJobsStorage": azurite_connection_string,
            "ACRBOT_TABLE_PREFIX": unique_name,
            "ACRBOT_QUEUE_NAME": function_app.JOB_QUEUE,
            "ACRBOT_SLACK_BOT_TOKEN": TOKEN,
            "ACRBOT_SLACK_SIGNING_SECRET": SECRET,
            "ACRBOT_SLACK_API_URL": slack.api_url,
            "ACRBOT_SLACK_TEAM_IDS": json.dumps([slack.team_id]),
            "ACRBOT_SLACK_BOT_USER_ID": slack.bot_user_id,
            "ACRBOT_SLACK_BOT_ID": slack.bot_id,
            "ACRBOT_SLACK_APPROVALS_CHANNEL": APPROVALS,
            "ACRBOT_REGISTRIES": json.dumps(
                [
                    {
                        "name": "contosoprod",
                        "subscription_id": SUBSCRIPTION,
                        "resource_group": RESOURCE_GROUP,
                        "custom_domains": ["cr.contoso.cloud"],
                        "approvers": [APPROVER, APPROVER_2],
                        **registry,
                    }
                ]
            ),
            "ACRBOT_KNOWN_IPS": json.dumps({"4.175.12.34": "NAT gateway ng-aks-prod"}),
            "ACRBOT_SERVICE_TAGS__FILE": str(EXAMPLES / "service-tags.json"),
            "ACRBOT_ARM__ENDPOINT": arm.base_url,
            "ACRBOT_ARM__CA_BUNDLE": arm.ca_path,
            "ACRBOT_ARM__POLLING_INTERVAL": "0",
            "ACRBOT_ARM__RETRY_BACKOFF_FACTOR": "0",
            "ACRBOT_ARM__RETRY_BACKOFF_MAX": "0",
            "ACRBOT_ARM__RETRY_TOTAL": "2",
            # Re-queued reconciles become visible at once: Azurite's queue runs on the wall clock.
            "ACRBOT_ARM__BUSY_RETRY_SECONDS": "0",
            "ACRBOT_ARM__FAILURE_RETRY_SECONDS": "0",
            "ACRBOT_ARM__LOCK_CONTAINER": f"{unique_name}-locks",
        }
        env.update(env_extra or {})
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = Settings()
        # Grants run on a clock the tests can move; Slack's signatures use the real one.
        runtime = Runtime(
            settings, credential=StaticTokenCredential(), clock=FrozenClock(datetime.now(UTC))
        )
        functions.install(runtime)
        host = FunctionsHost(function_app, settings)
        host.clear()
        try:
            yield World(slack, SlackClient(SECRET, emulator=slack), arm, host, runtime, settings)
        finally:
            functions.install(None)


@pytest.fixture
def world(azurite_connection_string, unique_name, monkeypatch) -> Iterator[World]:
    with make_world(azurite_connection_string, unique_name, monkeypatch) as made:
        yield made


@pytest.fixture
def two_approvers(azurite_connection_string, unique_name, monkeypatch) -> Iterator[World]:
    with make_world(
        azurite_connection_string, unique_name, monkeypatch, required_approvals=2
    ) as made:
        yield made


@pytest.fixture
def group_world(azurite_connection_string, unique_name, monkeypatch) -> Iterator[World]:
    # The registry's approvers are a user group Slack cannot find.
    with make_world(
        azurite_connection_string,
        unique_name,
        monkeypatch,
        approvers=[],
        approver_group="S0MISSING",
    ) as made:
        yield made
