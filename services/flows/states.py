"""Registry states for diagnoses: what a registry's firewall is now, read through the gateway
and reused for a few seconds (a burst of pastes about one registry reads it once)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from services.clock import Clock
from services.domain.policy import RegistryConfig
from services.domain.registry import RegistryState
from services.ports import RegistryGateway


class RegistryStates:
    """Registry states (GET + listUsages) for diagnoses, reused for `ttl` per registry.

    Only diagnoses read through it; the reconcile always reads fresh under the lock.
    """

    def __init__(self, gateway: RegistryGateway, clock: Clock, ttl: timedelta) -> None:
        self._gateway = gateway
        self._clock = clock
        self._ttl = ttl
        self._cache: dict[str, tuple[datetime, RegistryState]] = {}
        self._mutex = threading.Lock()

    def get(self, config: RegistryConfig) -> RegistryState:
        now = self._clock.now()
        key = config.resource_id.lower()
        with self._mutex:
            cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        usage = self._gateway.usage(config)
        state = self._gateway.read(config).state.model_copy(
            update={"ip_rule_quota_used": usage.used, "ip_rule_quota_limit": usage.limit}
        )
        with self._mutex:
            self._cache[key] = (now, state)
        return state

    def forget(self, config: RegistryConfig) -> None:
        with self._mutex:
            self._cache.pop(config.resource_id.lower(), None)
