"""Deciding on grants: approve, deny, extend, revoke.

Who may decide is worked out here from the grant's registry (`book.approvers_for`), never taken
from the caller, so no entry point can get invariant 4 wrong. Reasons are checked before any
state changes. A decision that makes a rule necessary or unnecessary asks for the registry's
reconcile; everything that people should see becomes a `GrantNotice` job.
"""

from __future__ import annotations

from datetime import timedelta

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
from services.flows.book import approvers_for, transition
from services.flows.requests import lapse_quietly
from services.ports import Ports


def approve_grant(
    ports: Ports, grant_id: str, *, approver: str, duration: timedelta | None = None
) -> Grant:
    """One approval. At the registry's required number of distinct approvals the grant is
    approved and its registry's reconcile is queued; before that the approval is recorded.

    Raises `NotAnApprover`, `SelfDecision`, `AlreadyApproved`, `AlreadyDecided` (another approver
    was first), `RequestLapsed` (it is lapsed on the way), `InvalidDuration`,
    `DirectoryUnavailable`, `GrantNotFound`.
    """
    grant = ports.grants.get(grant_id)[0]
    approvers = approvers_for(ports, ports.registries.get(grant.registry), approver)
    try:
        _, after = transition(
            ports,
            grant_id,
            lambda g, now: approve(
                g,
                approver=approver,
                approvers=approvers,
                now=now,
                policy=ports.policy,
                duration=duration,
            ),
            actor=approver,
        )
    except RequestLapsed:
        lapse_quietly(ports, grant_id)
        raise
    if after.state is GrantState.APPROVED:
        ports.jobs.send(ReconcileJob(registry=after.registry))
        ports.jobs.send(GrantNotice(grant_id=grant_id, event=GrantEvent.APPROVED, actor=approver))
    else:
        ports.jobs.send(
            GrantNotice(
                grant_id=grant_id,
                event=GrantEvent.APPROVAL_ADDED,
                actor=approver,
                seq=str(len(after.approvals)),
            )
        )
    return after


def deny_grant(ports: Ports, grant_id: str, *, approver: str, reason: str | None = None) -> Grant:
    """pending → denied, with an optional reason the requester is told. Same checks as approve."""
    cleaned = validate_reason(reason, ports.policy)
    grant = ports.grants.get(grant_id)[0]
    approvers = approvers_for(ports, ports.registries.get(grant.registry), approver)
    try:
        _, after = transition(
            ports,
            grant_id,
            lambda g, now: deny(g, approver=approver, approvers=approvers, now=now, reason=cleaned),
            actor=approver,
        )
    except RequestLapsed:
        lapse_quietly(ports, grant_id)
        raise
    ports.jobs.send(GrantNotice(grant_id=grant_id, event=GrantEvent.DENIED, actor=approver))
    return after


def request_extension_of(ports: Ports, grant_id: str, *, actor: str, duration: timedelta) -> Grant:
    """The requester asks for more time; the approvers decide on the card (`extend_grant`).

    Refused (`ExtensionRefused`) once the expiry has passed or beyond the policy's limits."""
    _, after = transition(
        ports,
        grant_id,
        lambda g, now: request_extension(
            g, actor=actor, duration=duration, now=now, policy=ports.policy
        ),
        actor=actor,
    )
    ports.jobs.send(
        GrantNotice(
            grant_id=grant_id,
            event=GrantEvent.EXTENSION_REQUESTED,
            actor=actor,
            seq=str(after.extension_count),
        )
    )
    return after


def deny_extension_of(ports: Ports, grant_id: str, *, approver: str) -> Grant:
    grant = ports.grants.get(grant_id)[0]
    approvers = approvers_for(ports, ports.registries.get(grant.registry), approver)
    _, after = transition(
        ports,
        grant_id,
        lambda g, now: deny_extension(g, approver=approver, approvers=approvers, now=now),
        actor=approver,
    )
    ports.jobs.send(
        GrantNotice(
            grant_id=grant_id,
            event=GrantEvent.EXTENSION_DENIED,
            actor=approver,
            seq=str(after.extension_count),
        )
    )
    return after


def extend_grant(
    ports: Ports, grant_id: str, *, approver: str, duration: timedelta | None = None
) -> Grant:
    """An active grant runs longer; decided by an approver of its registry, never the requester.
    `duration` defaults to the extension the requester asked for.

    Raises `ExtensionRefused` once its expiry has passed or beyond the policy's limits.
    """
    grant = ports.grants.get(grant_id)[0]
    approvers = approvers_for(ports, ports.registries.get(grant.registry), approver)
    _, after = transition(
        ports,
        grant_id,
        lambda g, now: extend(
            g,
            approver=approver,
            approvers=approvers,
            duration=duration,
            now=now,
            policy=ports.policy,
        ),
        actor=approver,
    )
    ports.jobs.send(
        GrantNotice(
            grant_id=grant_id,
            event=GrantEvent.EXTENDED,
            actor=approver,
            seq=str(after.extension_count),
        )
    )
    return after


def revoke_grant(ports: Ports, grant_id: str, *, actor: str, reason: str | None = None) -> Grant:
    """An approved or active grant ends now, by its requester or an approver of its registry;
    the registry's reconcile removes the rule at once."""
    cleaned = validate_reason(reason, ports.policy)
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
    )
    ports.jobs.send(ReconcileJob(registry=after.registry))
    ports.jobs.send(GrantNotice(grant_id=grant_id, event=GrantEvent.REVOKED, actor=actor))
    return after
