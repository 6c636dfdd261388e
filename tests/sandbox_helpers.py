"""Helpers shared by tests that use the loopback emulators: a static Entra ID token, ARM settings
that keep retries and polling fast, and registry configurations matching the emulator's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sandbox.arm_emulator import ArmEmulator
from sandbox.credentials import StaticTokenCredential
from services.domain.policy import RegistryConfig
from services.settings import ArmSettings

__all__ = [
    "MANIFEST_SCOPES",
    "RESOURCE_GROUP",
    "SUBSCRIPTION",
    "StaticTokenCredential",
    "arm_settings",
    "registry_config",
]

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
RESOURCE_GROUP = "rg-registries"
#: The bot token's scopes as the app's manifest asks for them: the emulators of the end-to-end
#: and crash suites refuse what a token installed from it could not do (`missing_scope`).
MANIFEST_SCOPES: tuple[str, ...] = tuple(
    json.loads((Path(__file__).resolve().parents[1] / "manifest.template.json").read_text("utf-8"))[
        "oauth_config"
    ]["scopes"]["bot"]
)


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
