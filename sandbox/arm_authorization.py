"""Azure RBAC for the loopback ARM emulator: the caller's role assignments, enforced on the
registry endpoints and listed by the permissions API.

Once attached, a registry request whose action no assignment at or above its scope allows is
answered as ARM answers it: 403 `AuthorizationFailed`, "The client '…' with object id '…' does
not have authorization to perform action '…' over scope '…' or the scope is invalid. If access
was recently granted, please refresh your credentials." It also serves, for API version
`PERMISSIONS_API_VERSION`:

- `GET {scope}/providers/Microsoft.Authorization/permissions`  `{"value": [{"actions",
  "notActions", "dataActions", "notDataActions"}, …], "nextLink": null}`, one entry per
  assignment that reaches the scope (Microsoft.Authorization's "Permissions - List For Resource").

Grant with `grant(scope, actions, not_actions=())` (a subscription, a resource group or a
registry id; `*` wildcards as in role definitions) and take away with `revoke(scope)`. The
emulator knows one caller (it checks only that a bearer token is sent), so the assignments are
that caller's. Without this plug-in attached the emulator allows everything, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sandbox.arm_emulator import Answer, ArmEmulator, Kind, arm_error
from services.domain.access import PermissionSet

PERMISSIONS_API_VERSION = "2022-04-01"
#: The object id ARM names in its refusals (the emulator's one caller).
CALLER_OBJECT_ID = "9e3f5a6c-1d2b-4c8e-a7f0-2b6d8c4e1f30"
_PERMISSIONS_SUFFIX = "/providers/microsoft.authorization/permissions"

#: The action ARM checks for each registry request the emulator serves.
REGISTRY_ACTIONS: dict[Kind, str] = {
    "get_registry": "Microsoft.ContainerRegistry/registries/read",
    "patch_registry": "Microsoft.ContainerRegistry/registries/write",
    "list_usages": "Microsoft.ContainerRegistry/registries/listUsages/read",
    "operation_status": "Microsoft.ContainerRegistry/registries/operationStatuses/read",
}


@dataclass(frozen=True)
class _Assignment:
    scope: str
    permissions: PermissionSet


def _within(resource: str, scope: str) -> bool:
    resource, scope = resource.rstrip("/").lower(), scope.rstrip("/").lower()
    return resource == scope or resource.startswith(scope + "/")


def _registry_scope(path: str) -> str:
    # `/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/n/...`
    return "/" + "/".join([p for p in path.split("/") if p][:8])


class RoleAssignments:
    """The emulator's caller's role assignments; `attach` it to an `ArmEmulator`."""

    def __init__(self) -> None:
        self._assignments: list[_Assignment] = []
        self._lock = threading.Lock()

    def attach(self, emulator: ArmEmulator) -> RoleAssignments:
        emulator.add_route(self._route)
        emulator.add_authorizer(self._authorize)
        return self

    def grant(self, scope: str, actions: Iterable[str], not_actions: Iterable[str] = ()) -> None:
        permissions = PermissionSet(actions=tuple(actions), not_actions=tuple(not_actions))
        with self._lock:
            self._assignments.append(_Assignment(scope, permissions))

    def revoke(self, scope: str) -> None:
        """Remove every assignment made at exactly `scope`."""
        with self._lock:
            self._assignments = [
                a
                for a in self._assignments
                if a.scope.rstrip("/").lower() != scope.rstrip("/").lower()
            ]

    def at(self, resource: str) -> list[PermissionSet]:
        """The permission sets of the assignments reaching `resource`."""
        with self._lock:
            return [a.permissions for a in self._assignments if _within(resource, a.scope)]

    def _authorize(self, method: str, path: str, kind: Kind) -> tuple[int, str, str] | None:
        action = REGISTRY_ACTIONS.get(kind)
        if action is None:
            return None
        scope = _registry_scope(path)
        if any(p.allows(action) for p in self.at(scope)):
            return None
        return (
            403,
            "AuthorizationFailed",
            f"The client '{CALLER_OBJECT_ID}' with object id '{CALLER_OBJECT_ID}' does not have "
            f"authorization to perform action '{action}' over scope '{scope}' or the scope is "
            "invalid. If access was recently granted, please refresh your credentials.",
        )

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer | None:
        if method != "GET" or not path.lower().endswith(_PERMISSIONS_SUFFIX):
            return None
        if query.get("api-version") != PERMISSIONS_API_VERSION:
            return arm_error(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{query.get('api-version')}' is invalid. The supported versions "
                f"are '{PERMISSIONS_API_VERSION}'.",
            )
        scope = path[: -len(_PERMISSIONS_SUFFIX)]
        value = [
            {
                "actions": list(p.actions),
                "notActions": list(p.not_actions),
                "dataActions": [],
                "notDataActions": [],
            }
            for p in self.at(scope)
        ]
        return 200, {}, {"value": value, "nextLink": None}
