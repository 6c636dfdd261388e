"""Helpers shared by tests that use the loopback emulators: a static Entra ID token, ARM settings
that keep retries and polling fast, and registry configurations matching the emulator's."""

from __future__ import annotations

import time
from typing import Any

from azure.core.credentials import AccessToken

from sandbox.arm_emulator import ArmEmulator
from services.domain.policy import RegistryConfig
from services.settings import ArmSettings

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
RESOURCE_GROUP = "rg-registries"


class StaticTokenCredential:
    """Our test double for Entra ID: a `TokenCredential` handing out one fixed token."""

    def __init__(self) -> None:
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        return AccessToken("test-token", int(time.time()) + 3600)


def registry_config(name: str, **kwargs: Any) -> RegistryConfig:
    return RegistryConfig(
        name=name, subscription_id=SUBSCRIPTION, resource_group=RESOURCE_GROUP, **kwargs
    )


def arm_settings(emulator: ArmEmulator, **overrides: Any) -> ArmSettings:
    """Settings that keep retries and polling fast against the emulator."""
    values: dict[str, Any] = {
        "endpoint": emulator.base_url,
        "ca_bundle": emulator.ca_path,
        "polling_interval": 0.0,
        "retry_total": 3,
        "retry_backoff_factor": 0.01,
        "retry_backoff_max": 0.05,
        "read_timeout": 10.0,
        "busy_retry_seconds": 0.0,
        "failure_retry_seconds": 0.0,
    }
    values.update(overrides)
    return ArmSettings(**values)
