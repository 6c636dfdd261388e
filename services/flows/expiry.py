"""A grant's deadline on time: a delayed job per active grant, visible at its expiry.

The sweep runs every few minutes and would leave a rule up to that long past its grant; the
deadline job removes it within about a minute (the queue's polling, then the reconcile). The sweep
stays the safety net for a job that was lost with its worker.
"""

from __future__ import annotations

from services.domain.errors import InvalidTransition
from services.domain.grants import SYSTEM_ACTOR, Grant, GrantState, expire
from services.domain.jobs import ExpireJob, GrantEvent, GrantNotice, ReconcileJob
from services.flows.book import BookPorts, find, transition


def expire_due(ports: BookPorts, job: ExpireJob) -> Grant | None:
    """A grant's deadline has come (its delayed job is visible): expire it and ask for its
    registry's reconcile now. A job that came early (the queue caps delays at seven days) is
    queued again for the rest; one for a deadline that an extension moved, or for a grant that
    ended otherwise, does nothing. Returns the expired grant."""
    grant = find(ports, job.grant_id)
    if grant is None or grant.state is not GrantState.ACTIVE or grant.expires_at != job.at:
        return None
    now = ports.clock.now()
    if now < job.at:
        ports.jobs.send(job, delay=job.at - now)
        return None
    after = expire_grant(ports, grant.id)
    if after is not None:
        ports.jobs.send(ReconcileJob(registry=after.registry))
    return after


def expire_grant(ports: BookPorts, grant_id: str) -> Grant | None:
    """active → expired, its notice queued ahead (the deadline job's and the sweep's one way);
    None when it was extended or ended meanwhile. The caller asks for the reconcile."""
    try:
        _, after = transition(
            ports,
            grant_id,
            lambda g, now: expire(g, now=now),
            actor=SYSTEM_ACTOR,
            announce=lambda g: [GrantNotice(grant_id=g.id, event=GrantEvent.EXPIRED)],
        )
    except InvalidTransition:
        return None
    return after


def schedule_expiry(ports: BookPorts, grant: Grant) -> None:
    """Queue `grant`'s deadline job (after it became active, or was extended)."""
    if grant.state is GrantState.ACTIVE and grant.expires_at is not None:
        ports.jobs.send(
            ExpireJob(grant_id=grant.id, at=grant.expires_at),
            delay=grant.expires_at - ports.clock.now(),
        )
