"""Shared by the services' integration tests: the flows on the real adapters (Table Storage, blob
leases and the Storage queue on Azurite, ARM through the SDK against the loopback emulator), wired
by `build_ports` from settings in the environment, as the Function app wires them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from sandbox.arm_emulator import ArmEmulator
from services.bootstrap import build_ports
from services.clock import FrozenClock
from services.domain.grants import Requester
from services.flows.decisions import approve_grant
from services.flows.requests import request_grant
from services.ports import Ports
from services.settings import Settings
from tests.sandbox_helpers import RESOURCE_GROUP, SUBSCRIPTION, StaticTokenCredential

REG = "contoso"
LOGIN = "contoso.azurecr.io"
APPROVER = "U0APPROVER"


@dataclass
class Env:
    ports: Ports
    emulator: ArmEmulator
    settings: Settings
    clock: FrozenClock


@pytest.fixture
def env(azurite_connection_string, unique_name, monkeypatch, clock) -> Iterator[Env]:
    with ArmEmulator() as emulator:
        emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REG, rules=["1.1.1.1"])
        values = {
            "AzureWebJobsStorage": azurite_connection_string,
            "ACRBOT_TABLE_PREFIX": unique_name,
            "ACRBOT_QUEUE_NAME": f"{unique_name}-jobs",
            "ACRBOT_REGISTRIES": json.dumps(
                [
                    {
                        "name": REG,
                        "subscription_id": SUBSCRIPTION,
                        "resource_group": RESOURCE_GROUP,
                        "approvers": [APPROVER],
                    }
                ]
            ),
            "ACRBOT_ARM__ENDPOINT": emulator.base_url,
            "ACRBOT_ARM__CA_BUNDLE": emulator.ca_path,
            "ACRBOT_ARM__POLLING_INTERVAL": "0",
            # Failures in these tests are injected: retry them quickly (the rest is default).
            "ACRBOT_ARM__RETRY_BACKOFF_FACTOR": "0",
            "ACRBOT_ARM__RETRY_BACKOFF_MAX": "0",
            "ACRBOT_ARM__LOCK_CONTAINER": unique_name,
            "ACRBOT_POLICY__MAX_OPEN_REQUESTS_PER_REQUESTER": "3",
        }
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        settings = Settings()
        ports = build_ports(settings, clock=clock, credential=StaticTokenCredential())
        yield Env(ports, emulator, settings, clock)


def approve_many(env: Env, count: int) -> list[str]:
    ids = []
    for i in range(count):
        grant = request_grant(
            env.ports,
            registry=LOGIN,
            ip=f"20.1.{i // 250}.{i % 250 + 1}",
            requester=Requester(user_id=f"U{i:04d}", team_id="T1"),
            justification="load test of the approval flow",
            duration=timedelta(hours=1),
        ).grant
        approve_grant(env.ports, grant.id, approver=APPROVER)
        ids.append(grant.id)
    return ids
