"""Helpers shared by tests that use the loopback emulators: a static Entra ID token, ARM settings
that keep retries and polling fast, and registry configurations matching the emulator's."""

from __future__ import annotations

from typing import Any

from sandbox.arm_emulator import ArmEmulator
from sandbox.credentials import StaticTokenCredential
from services.domain.policy import RegistryConfig
from services.settings import ArmSettings

__all__ = [
    "RESOURCE_GROUP",
    "SUBSCRIPTION",
    "StaticTokenCredential",
    "arm_settings",
    "registry_config",
]

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
RESOURCE_GROUP = "rg-registries"


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
        "retry_backoff_factor": 0.0,
        "retry_backoff_max": 0.0,
        "read_timeout": 10.0,
        "busy_retry_seconds": 0.0,
        "failure_retry_seconds": 0.0,
    }
    values.update(overrides)
    return ArmSettings(**values)
