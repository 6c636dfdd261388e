"""An approver directory from configuration: user groups and their members, fixed.

The Slack user-group directory (`bot/directory.py`) is the real one in the app; this one serves
the command line, the demo and the flow tests. A group it does not know cannot be read, so its
members cannot approve: a missing directory never means everybody may.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from services.domain.errors import DirectoryUnavailable


class StaticApproverDirectory:
    """`ApproverDirectory` over a fixed mapping of group id → member user ids."""

    def __init__(self, groups: Mapping[str, Iterable[str]] | None = None) -> None:
        self._groups = {g: frozenset(m) for g, m in (groups or {}).items()}

    def members(self, group: str) -> frozenset[str]:
        try:
            return self._groups[group]
        except KeyError:
            raise DirectoryUnavailable(group, "no directory of user groups is configured") from None
