"""Deciding on grants: approve, deny, extend, revoke.

Who may decide is worked out here from the grant's registry (`book.approvers_for`), never taken
from the caller, so no entry point can get invariant 4 wrong. Reasons are checked before any
state changes. A decision that makes a rule necessary or unnecessary asks for the registry's
reconcile; everything that people should see becomes a `GrantNotice` job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from services.domain.errors import RequestLapsed
from services.domain.grants import (
    Grant,
    GrantState,
    approve,
    deny,
    deny_extension,
    extend,
    request_extension,
    revoke,
    validate_reason,
)
from services.domain.jobs import GrantEvent, GrantNotice, ReconcileJob
from services.flows.book import ApproverPorts, approvers_for, transition
from services.flows.expiry import schedule_expiry
from services.flows.requests import RequestPorts, lapse_quietly


class DecisionPorts(RequestPorts, ApproverPorts, Protocol):
    """What deciding on a grant touches: the grant book, the registries and policy, and the
    approver directory the approvers are worked out with."""


def _as_approver(
    ports: DecisionPorts,
    grant_id: str,
    approver: str,
    change: Callable[[Grant, datetime, frozenset[str]], Grant],
    announce: Callable[[Grant], Sequence[GrantNotice]],
) -> Grant:
    """Apply an approver's `change` with the approvers of the grant's registry, worked out here;
    a request found past its deadline on the way is lapsed."""
    grant = ports.grants.get(grant_id)[0]
    approvers = approvers_for(ports, ports.registries.get(grant.registry), approver)
    try:
        _, after = transition(
            ports,
            grant_id,
            lambda g, now: change(g, now, approvers),
            actor=approver,
            announce=announce,
        )
    except RequestLapsed:
        lapse_quietly(ports, grant_id)
        raise
    return after


def _notice(
    event: GrantEvent, actor: str, seq: Callable[[Grant], str] | None = None
) -> Callable[[Grant], Sequence[GrantNotice]]:
    """The notice announcing `event`, made from the changed grant (queued before it is stored)."""

    def announce(grant: Grant) -> Sequence[GrantNotice]:
        number = seq(grant) if seq is not None else ""
        return [GrantNotice(grant_id=grant.id, event=event, actor=actor, seq=number)]

    return announce


def _approval_notice(approver: str) -> Callable[[Grant], Sequence[GrantNotice]]:
    def announce(grant: Grant) -> Sequence[GrantNotice]:
        if grant.state is GrantState.APPROVED:
            return [GrantNotice(grant_id=grant.id, event=GrantEvent.APPROVED, actor=approver)]
        return [
            GrantNotice(
                grant_id=grant.id,
                event=GrantEvent.APPROVAL_ADDED,
                actor=approver,
                seq=str(len(grant.approvals)),
            )
        ]

    return announce


def _extensions(grant: Grant) -> str:
    return str(grant.extension_answers)


def approve_grant(
    ports: DecisionPorts, grant_id: str, *, approver: str, duration: timedelta | None = None
) -> Grant:
    """One approval. At the registry's required number of distinct approvals the grant is
    approved and its registry's reconcile is queued; before that the approval is recorded.

    Raises `NotAnApprover`, `SelfDecision`, `AlreadyApproved`, `AlreadyDecided` (another approver
    was first), `RequestLapsed` (it is lapsed on the way), `InvalidDuration`,
    `DirectoryUnavailable`, `GrantNotFound`.
    """
    after = _as_approver(
        ports,
        grant_id,
        approver,
        lambda g, now, approvers: approve(
            g,
            approver=approver,
            approvers=approvers,
            now=now,
            policy=ports.policy,
            duration=duration,
        ),
        _approval_notice(approver),
    )
    if after.state is GrantState.APPROVED:
        ports.jobs.send(ReconcileJob(registry=after.registry))
    return after


def deny_grant(
    ports: DecisionPorts, grant_id: str, *, approver: str, reason: str | None = None
) -> Grant:
    """pending → denied, with an optional reason the requester is told. Same checks as approve."""
    cleaned = validate_reason(reason, ports.policy, required=ports.policy.deny_reason_required)
    return _as_approver(
        ports,
        grant_id,
        approver,
        lambda g, now, approvers: deny(
            g, approver=approver, approvers=approvers, now=now, reason=cleaned
        ),
        _notice(GrantEvent.DENIED, approver),
    )


def request_extension_of(
    ports: DecisionPorts, grant_id: str, *, actor: str, duration: timedelta
) -> Grant:
    """The requester asks for more time; the approvers decide on the card (`extend_grant`).

    Refused (`ExtensionRefused`) once the expiry has passed or beyond the policy's limits."""
    _, after = transition(
        ports,
        grant_id,
        lambda g, now: request_extension(
            g, actor=actor, duration=duration, now=now, policy=ports.policy
        ),
        actor=actor,
        announce=_notice(GrantEvent.EXTENSION_REQUESTED, actor, _extensions),
    )
    return after


def deny_extension_of(ports: DecisionPorts, grant_id: str, *, approver: str) -> Grant:
    """An approver refuses the extension asked for; the grant ends when it was going to."""
    return _as_approver(
        ports,
        grant_id,
        approver,
        lambda g, now, approvers: deny_extension(
            g, approver=approver, approvers=approvers, now=now
        ),
        _notice(GrantEvent.EXTENSION_DENIED, approver, _extensions),
    )


def extend_grant(
    ports: DecisionPorts, grant_id: str, *, approver: str, duration: timedelta | None = None
) -> Grant:
    """An active grant runs longer; decided by an approver of its registry, never the requester.
    `duration` defaults to the extension the requester asked for.

    Raises `ExtensionRefused` once its expiry has passed or beyond the policy's limits.
    """
    after = _as_approver(
        ports,
        grant_id,
        approver,
        lambda g, now, approvers: extend(
            g,
            approver=approver,
            approvers=approvers,
            duration=duration,
            now=now,
            policy=ports.policy,
        ),
        _notice(GrantEvent.EXTENDED, approver, _extensions),
    )
    schedule_expiry(ports, after)
    return after


def revoke_grant(
    ports: DecisionPorts, grant_id: str, *, actor: str, reason: str | None = None
) -> Grant:
    """An approved or active grant ends now, by its requester or an approver of its registry;
    the registry's reconcile removes the rule at once. The reason may be required by the
    policy (`revoke_reason_required`)."""
    cleaned = validate_reason(reason, ports.policy, required=ports.policy.revoke_reason_required)
    grant = ports.grants.get(grant_id)[0]
    config = ports.registries.get(grant.registry)
    approvers = (
        frozenset() if actor == grant.requester.user_id else approvers_for(ports, config, actor)
    )
    _, after = transition(
        ports,
        grant_id,
        lambda g, now: revoke(g, actor=actor, approvers=approvers, now=now, reason=cleaned),
        actor=actor,
        announce=_notice(GrantEvent.REVOKED, actor),
    )
    ports.jobs.send(ReconcileJob(registry=after.registry))
    return after
