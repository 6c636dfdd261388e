"""Expiry on time: activation queues a job visible at the deadline; it expires the grant and asks
for the reconcile, so the rule goes within about a minute of the deadline, not at the next sweep.
The card shows the deadline as the expiry and, apart, when the rule was removed."""

from __future__ import annotations

from datetime import timedelta

from services.domain.grants import GrantState
from services.domain.jobs import ExpireJob, ReconcileJob
from services.flows.decisions import extend_grant, request_extension_of
from services.flows.expiry import expire_due
from services.flows.reconcile import run_reconcile_job
from tests.fakes.ports import APPROVER, REQUESTER, make_fakes
from tests.services.flows.helpers import active


def deadline_jobs(fakes) -> list:
    return [q for q in fakes.jobs.jobs if isinstance(q.job, ExpireJob)]


def run_visible(fakes) -> None:
    for job in fakes.jobs.take():
        if isinstance(job, ExpireJob):
            expire_due(fakes.ports, job)
        elif isinstance(job, ReconcileJob):
            run_reconcile_job(fakes.ports, job)


def test_activation_queues_the_deadline_and_the_rule_goes_at_it() -> None:
    fakes = make_fakes()
    grant = active(fakes)  # one hour
    [queued] = deadline_jobs(fakes)
    assert queued.visible_at == grant.expires_at
    fakes.clock.advance(timedelta(minutes=59))
    run_visible(fakes)
    assert fakes.registry.rules("contoso") == ["20.1.2.3"]
    fakes.clock.advance(timedelta(minutes=1, seconds=2))  # the queue's polling, a few seconds
    run_visible(fakes)  # the deadline job: expired, reconcile queued
    run_visible(fakes)  # the reconcile
    assert fakes.registry.rules("contoso") == []
    stored = fakes.ports.grants.get(grant.id)[0]
    assert stored.state is GrantState.EXPIRED
    assert stored.ended_at == grant.expires_at  # the deadline, not when the bot got to it
    assert stored.rule_removed_at == fakes.clock.now()


def test_an_extension_moves_the_deadline_and_the_old_job_does_nothing() -> None:
    fakes = make_fakes()
    grant = active(fakes)
    request_extension_of(fakes.ports, grant.id, actor=REQUESTER, duration=timedelta(hours=1))
    extended = extend_grant(fakes.ports, grant.id, approver=APPROVER)
    assert [q.visible_at for q in deadline_jobs(fakes)] == [grant.expires_at, extended.expires_at]
    fakes.clock.advance(timedelta(hours=1, seconds=5))
    run_visible(fakes)
    assert fakes.ports.grants.get(grant.id)[0].state is GrantState.ACTIVE
    assert fakes.registry.rules("contoso") == ["20.1.2.3"]
    fakes.clock.advance(timedelta(hours=1))
    run_visible(fakes)
    run_visible(fakes)
    assert fakes.registry.rules("contoso") == []
