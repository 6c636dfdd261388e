"""What a person's App Home shows, from the grants and registries as they are now: what they
asked for, what waits for their decision, what is active on the registries they approve for, and
how full each registry's rule list is. Sorted: waiting for them first (oldest first), then
theirs, then active (ending soonest first)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from services.domain.errors import DomainError
from services.domain.grants import (
    Grant,
    GrantState,
    Requester,
    registry_partition,
    requester_partition,
)
from services.domain.policy import RegistryDirectory
from services.flows.book import ApproverPorts, BookPorts, approvers_for, grants_in
from services.ports import RegistryStateCache


class HomePorts(BookPorts, ApproverPorts, Protocol):
    """What a Home reads: the grant book, the registries, who approves, and their states."""

    @property
    def registries(self) -> RegistryDirectory: ...

    @property
    def states(self) -> RegistryStateCache | None: ...


@dataclass(frozen=True)
class RegistryLine:
    """A registry as the Home shows it: its rule quota, or why it could not be read."""

    login_server: str
    used: int | None = None
    limit: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class Home:
    mine: list[Grant] = field(default_factory=list)
    waiting: list[Grant] = field(default_factory=list)
    active: list[Grant] = field(default_factory=list)
    registries: list[RegistryLine] = field(default_factory=list)
    is_approver: bool = False


def home_of(ports: HomePorts, *, team_id: str, user_id: str) -> Home:
    """The App Home of `user_id`."""
    mine = [
        g
        for g in grants_in(ports, requester_partition(Requester(user_id=user_id, team_id=team_id)))
        if g.is_open
    ]
    waiting: list[Grant] = []
    active: list[Grant] = []
    lines: list[RegistryLine] = []
    is_approver = False
    for config in ports.registries:
        login = config.effective_login_server
        try:
            approves = user_id in approvers_for(ports, config, user_id)
        except DomainError:
            approves = False
        if approves:
            is_approver = True
            for grant in grants_in(ports, registry_partition(login)):
                if grant.state is GrantState.PENDING and grant.requester.user_id != user_id:
                    waiting.append(grant)
                elif grant.state in (GrantState.APPROVED, GrantState.ACTIVE):
                    active.append(grant)
        try:
            state = ports.states.get(config) if ports.states else None
            lines.append(
                RegistryLine(
                    login,
                    used=state.rules_used if state else None,
                    limit=state.rules_limit if state else None,
                )
            )
        except DomainError as exc:
            lines.append(RegistryLine(login, error=exc.message))
    waiting.sort(key=lambda g: (g.requested_at, g.id))
    mine.sort(key=lambda g: (g.state is not GrantState.PENDING, g.requested_at, g.id))
    active.sort(key=lambda g: (g.expires_at or g.requested_at, g.id))
    return Home(mine, waiting, active, lines, is_approver)


def concerned(grant: Grant, approvers: frozenset[str]) -> set[str]:
    """Whose App Home shows `grant`: its requester's and its registry's approvers'."""
    return {grant.requester.user_id, *approvers}
