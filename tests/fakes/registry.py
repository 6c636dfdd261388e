"""An in-memory registry gateway and registry lock.

`FakeRegistryGateway` keeps registries as the raw JSON ARM would return and replaces `ipRules` on
`write`, as a PATCH of the network rule set does; tests shape it with `set_rules`, `fail` (the
next call of an operation raises) and `after_write` (a hook run after the write is applied and
before it returns: a crash or a foreign writer between the PATCH and the read back).
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from services.azure.permissions import REGISTRY_RULES_ACTIONS
from services.domain.access import PermissionSet
from services.domain.errors import LockLost, RegistryNotFound
from services.domain.policy import RegistryConfig
from services.domain.registry import RawRule, RegistrySnapshot, RuleUsage

_PROVIDER = "Microsoft.ContainerRegistry"
#: What `listUsages` reports for a Premium registry's IP rules, as the ARM emulator answers.
LIVE_IP_RULE_LIMIT = 200


def registry_json(
    name: str,
    *,
    rules: list[str] | None = None,
    sku: str = "Premium",
    public_network_access: str = "Enabled",
    default_action: str = "Deny",
    vnet_rules: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    nrs: dict[str, Any] = {
        "defaultAction": default_action,
        "ipRules": [{"action": "Allow", "value": v} for v in rules or []],
    }
    if vnet_rules is not None:
        nrs["virtualNetworkRules"] = vnet_rules
    return {
        "id": f"/subscriptions/s/resourceGroups/rg/providers/{_PROVIDER}/registries/{name}",
        "name": name,
        "location": "westeurope",
        "sku": {"name": sku, "tier": sku},
        "properties": {
            "loginServer": f"{name.lower()}.azurecr.io",
            "publicNetworkAccess": public_network_access,
            "networkRuleSet": nrs,
            "networkRuleBypassOptions": "AzureServices",
        },
    }


class FakeRegistryGateway:
    def __init__(self) -> None:
        self._registries: dict[str, dict[str, Any]] = {}
        self._limits: dict[str, int] = {}
        self._failures: dict[str, list[Exception]] = {}
        self.after_write: Callable[[str], None] | None = None
        self.calls: Counter[str] = Counter()
        self._mutex = threading.RLock()
        #: The caller's permission sets per registry; unset: the bot's registry role.
        self._permissions: dict[str, tuple[PermissionSet, ...]] = {}

    def add(self, name: str, **kwargs: Any) -> None:
        with self._mutex:
            self._registries[name.lower()] = registry_json(name, **kwargs)

    def set_limit(self, name: str, limit: int) -> None:
        self._limits[name.lower()] = limit

    def rules(self, name: str) -> list[str]:
        with self._mutex:
            nrs = self._registries[name.lower()]["properties"]["networkRuleSet"]
            return [r["value"] for r in nrs["ipRules"]]

    def set_rules(self, name: str, values: list[str]) -> None:
        with self._mutex:
            nrs = self._registries[name.lower()]["properties"]["networkRuleSet"]
            nrs["ipRules"] = [{"action": "Allow", "value": v} for v in values]

    def set_property(self, name: str, key: str, value: Any) -> None:
        with self._mutex:
            self._registries[name.lower()]["properties"][key] = value

    def set_permissions(self, name: str, *sets: PermissionSet) -> None:
        """What the caller may do on `name` (no sets: nothing at all)."""
        self._permissions[name.lower()] = sets

    def permissions(self, registry: RegistryConfig) -> tuple[PermissionSet, ...]:
        with self._mutex:
            self.calls["permissions"] += 1
            self._maybe_fail("permissions")
            return self._permissions.get(
                registry.name.lower(), (PermissionSet(actions=REGISTRY_RULES_ACTIONS),)
            )

    def fail(self, operation: str, error: Exception, *, times: int = 1) -> None:
        self._failures.setdefault(operation, []).extend([error] * times)

    def _maybe_fail(self, operation: str) -> None:
        queued = self._failures.get(operation)
        if queued:
            raise queued.pop(0)

    def _raw(self, registry: RegistryConfig) -> dict[str, Any]:
        raw = self._registries.get(registry.name.lower())
        if raw is None:
            raise RegistryNotFound(registry.name, registry.resource_id)
        return raw

    def usage(self, registry: RegistryConfig) -> RuleUsage:
        with self._mutex:
            self.calls["usage"] += 1
            self._maybe_fail("usage")
            raw = self._raw(registry)
            used = len(raw["properties"]["networkRuleSet"]["ipRules"])
            return RuleUsage(
                used=used, limit=self._limits.get(registry.name.lower(), LIVE_IP_RULE_LIMIT)
            )

    def read(self, registry: RegistryConfig) -> RegistrySnapshot:
        with self._mutex:
            self.calls["read"] += 1
            self._maybe_fail("read")
            return RegistrySnapshot(raw=copy.deepcopy(self._raw(registry)))

    def write(
        self, registry: RegistryConfig, snapshot: RegistrySnapshot, ip_rules: list[RawRule]
    ) -> RegistrySnapshot:
        with self._mutex:
            self.calls["write"] += 1
            self._maybe_fail("write")
            raw = self._raw(registry)
            nrs = copy.deepcopy(snapshot.raw["properties"].get("networkRuleSet") or {})
            nrs["ipRules"] = copy.deepcopy(ip_rules)
            raw["properties"]["networkRuleSet"] = nrs
        if self.after_write is not None:
            self.after_write(registry.name)
        with self._mutex:
            self._maybe_fail("read_back")
            return RegistrySnapshot(raw=copy.deepcopy(self._raw(registry)))


class _Lease:
    def __init__(self, registry: str) -> None:
        self.registry = registry
        self.lost = False

    def check(self) -> None:
        if self.lost:
            raise LockLost(self.registry, "lease lost")

    def confirm(self) -> None:
        self.check()


class FakeLock:
    """A per-registry lock that never waits; `hold_externally` makes it busy for a test, and
    `break_externally` breaks the lease in hand (as someone breaking a blob lease: its holder's
    next `confirm` fails, and the lock is free for another)."""

    def __init__(self) -> None:
        #: Held registries, with the lease handed out (None: held by someone outside the test).
        self._held: dict[str, _Lease | None] = {}
        self._mutex = threading.Lock()
        self.busy_answers = 0

    @contextmanager
    def _holding(self, lease: _Lease) -> Iterator[_Lease]:
        try:
            yield lease
        finally:
            with self._mutex:
                # A broken lease gives nothing back: the lock may be someone else's by now.
                if self._held.get(lease.registry) is lease:
                    del self._held[lease.registry]

    def try_hold(self, registry: str) -> Any:
        key = registry.lower()
        with self._mutex:
            if key in self._held:
                self.busy_answers += 1
                return None
            lease = self._held[key] = _Lease(key)
        return self._holding(lease)

    def hold_externally(self, registry: str) -> None:
        with self._mutex:
            self._held[registry.lower()] = None

    def release_externally(self, registry: str) -> None:
        with self._mutex:
            self._held.pop(registry.lower(), None)

    def break_externally(self, registry: str) -> None:
        with self._mutex:
            lease = self._held.pop(registry.lower(), None)
        if lease is not None:
            lease.lost = True
