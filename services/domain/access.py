"""What an identity may do on a resource, as Azure RBAC computes it: a list of permission sets
(one per role assignment that reaches the scope), each with `actions` and `notActions`.

An action is allowed when some set names it (exactly or through a `*` wildcard) and the same set
does not exclude it in `notActions`; a `notActions` entry never takes away what another
assignment grants (Microsoft's "Azure RBAC: NotActions" rule). Action names compare without
regard to case, as ARM's do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from pydantic import BaseModel, ConfigDict, Field


@cache
def _pattern(action: str) -> re.Pattern[str]:
    # `*` stands for any run of characters, `/` included (`Microsoft.ContainerRegistry/*`).
    return re.compile(".*".join(re.escape(part) for part in action.split("*")), re.IGNORECASE)


def _matches(granted: str, action: str) -> bool:
    return _pattern(granted).fullmatch(action) is not None


class PermissionSet(BaseModel):
    """One role assignment's control-plane permissions at a scope."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = Field(default=(), alias="notActions")

    def allows(self, action: str) -> bool:
        return any(_matches(a, action) for a in self.actions) and not any(
            _matches(n, action) for n in self.not_actions
        )


def missing_actions(sets: Iterable[PermissionSet], needed: Iterable[str]) -> list[str]:
    """The actions in `needed` that no permission set allows, in the order given."""
    held = tuple(sets)
    return [action for action in needed if not any(s.allows(action) for s in held)]
