"""Helpers for the registry tests: a static Entra ID token, a service wired to the loopback ARM
emulator over HTTPS, and a lock that does not lock (to show what the real one prevents)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from azure.core.credentials import AccessToken

from sandbox.arm_emulator import ArmEmulator
from services.clock import Clock
from services.locks import BlobLeaseLock, RegistryLock
from services.registry import ArmRegistryRules
from services.settings import ArmSettings, RegistryConfig

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
RESOURCE_GROUP = "rg-registries"


class StaticTokenCredential:
    """Our test double for Entra ID: a `TokenCredential` handing out one fixed token."""

    def __init__(self) -> None:
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls += 1
        return AccessToken("test-token", int(time.time()) + 3600)


class NoLock:
    """A `RegistryLock` that lets everyone in at once: only to show what the real lock prevents."""

    @contextmanager
    def hold(self, registry: str) -> Iterator[None]:
        yield None


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
        "state_cache_seconds": 15.0,
        "lock_lease_seconds": 15,
        "lock_wait_seconds": 30.0,
        "lock_poll_seconds": 0.02,
        "read_timeout": 10.0,
    }
    values.update(overrides)
    return ArmSettings(**values)


def blob_lock(connection_string: str, container: str, arm: ArmSettings) -> BlobLeaseLock:
    return BlobLeaseLock.from_connection_string(
        connection_string,
        container,
        lease_seconds=arm.lock_lease_seconds,
        wait_seconds=arm.lock_wait_seconds,
        poll_seconds=arm.lock_poll_seconds,
    )


def make_rules(
    emulator: ArmEmulator,
    registries: list[RegistryConfig],
    *,
    lock: RegistryLock,
    clock: Clock,
    **arm_overrides: Any,
) -> ArmRegistryRules:
    return ArmRegistryRules(
        registries=registries,
        arm=arm_settings(emulator, **arm_overrides),
        lock=lock,
        credential=StaticTokenCredential(),
        clock=clock,
    )
