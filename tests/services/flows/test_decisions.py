"""Deciding: approvers worked out by the service, reasons bounded before any change, extension
and revocation within policy."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from services.domain import errors
from services.domain.grants import GrantState
from services.domain.jobs import GrantEvent, GrantNotice, ReconcileJob
from services.domain.policy import Policy
from services.flows.decisions import approve_grant, deny_grant, extend_grant, revoke_grant
from tests.fakes.ports import APPROVER, APPROVER_2, REQUESTER, config, make_fakes
from tests.services.flows.helpers import active, request


def test_approval_queues_the_registrys_reconcile_and_a_notice() -> None:
    fakes = make_fakes()
    grant = request(fakes)
    fakes.jobs.jobs.clear()
    approved = approve_grant(fakes.ports, grant.id, approver=APPROVER)
    assert approved.state is GrantState.APPROVED
    assert approved.approver == APPROVER
    assert approved.activation_due_at == fakes.clock.now() + timedelta(minutes=10)
    jobs = [j.job for j in fakes.jobs.jobs]
    assert ReconcileJob(registry="contoso.azurecr.io") in jobs
    assert GrantNotice(grant_id=grant.id, event=GrantEvent.APPROVED, actor=APPROVER) in jobs


def test_someone_who_is_not_an_approver_is_refused() -> None:
    fakes = make_fakes()
    grant = request(fakes)
    with pytest.raises(errors.NotAnApprover) as refused:
        approve_grant(fakes.ports, grant.id, approver="U0STRANGER")
    assert "contoso.azurecr.io" in refused.value.message
    assert fakes.grants.get(grant.id)[0].state is GrantState.PENDING


def test_the_requester_cannot_decide_their_own_request_even_as_an_approver() -> None:
    fakes = make_fakes()
    grant = request(fakes, user=APPROVER)
    with pytest.raises(errors.SelfDecision):
        approve_grant(fakes.ports, grant.id, approver=APPROVER)
    with pytest.raises(errors.SelfDecision):
        deny_grant(fakes.ports, grant.id, approver=APPROVER)


def test_a_decided_request_says_who_decided_and_when() -> None:
    fakes = make_fakes()
    grant = request(fakes)
    deny_grant(fakes.ports, grant.id, approver=APPROVER, reason="use the NAT gateway")
    with pytest.raises(errors.AlreadyDecided) as late:
        approve_grant(fakes.ports, grant.id, approver=APPROVER_2)
    assert late.value.decided_by == APPROVER
    assert late.value.decided_at == fakes.clock.now()
    assert "denied" in late.value.message


def test_two_approvers_clicking_at_once_make_exactly_one_decision() -> None:
    fakes = make_fakes()
    grant = request(fakes)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def click(user: str) -> None:
        barrier.wait()
        try:
            outcomes.append(approve_grant(fakes.ports, grant.id, approver=user))
        except errors.AlreadyDecided as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=click, args=(u,)) for u in (APPROVER, APPROVER_2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(o, errors.AlreadyDecided) for o in outcomes) == 1
    reconciles = [j for j in fakes.jobs.jobs if isinstance(j.job, ReconcileJob)]
    assert len(reconciles) == 1
    transitions = [e.to_state for e in fakes.audit.for_grant(grant.id)]
    assert transitions == ["pending", "approved"]


def test_an_oversized_reason_is_refused_with_nothing_changed() -> None:
    fakes = make_fakes()
    grant = request(fakes)
    events = len(fakes.audit.for_grant(grant.id))
    with pytest.raises(errors.InvalidText):
        deny_grant(fakes.ports, grant.id, approver=APPROVER, reason="x" * 31_000)
    assert fakes.grants.get(grant.id)[0].state is GrantState.PENDING
    assert len(fakes.audit.for_grant(grant.id)) == events


def test_an_approver_may_shorten_the_duration_never_lengthen_it() -> None:
    fakes = make_fakes()
    grant = request(fakes, duration=timedelta(hours=4))
    with pytest.raises(errors.InvalidDuration):
        approve_grant(fakes.ports, grant.id, approver=APPROVER, duration=timedelta(hours=8))
    approved = approve_grant(fakes.ports, grant.id, approver=APPROVER, duration=timedelta(hours=1))
    assert approved.approved_duration == timedelta(hours=1)


def test_the_same_approver_twice_does_not_make_two_approvals() -> None:
    fakes = make_fakes(config(required_approvals=2))
    grant = request(fakes)
    approve_grant(fakes.ports, grant.id, approver=APPROVER)
    with pytest.raises(errors.AlreadyApproved):
        approve_grant(fakes.ports, grant.id, approver=APPROVER)
    assert fakes.grants.get(grant.id)[0].state is GrantState.PENDING


def test_deciding_after_the_deadline_lapses_the_request() -> None:
    fakes = make_fakes()
    grant = request(fakes)
    fakes.clock.advance(timedelta(hours=8))
    with pytest.raises(errors.RequestLapsed):
        approve_grant(fakes.ports, grant.id, approver=APPROVER)
    assert fakes.grants.get(grant.id)[0].state is GrantState.LAPSED


def test_approvers_from_a_user_group_are_resolved_by_the_service() -> None:
    fakes = make_fakes(
        config(approvers=(), approver_group="S0PLATFORM"), groups={"S0PLATFORM": ["U0GROUPIE"]}
    )
    grant = request(fakes)
    with pytest.raises(errors.NotAnApprover):
        approve_grant(fakes.ports, grant.id, approver=APPROVER)
    assert approve_grant(fakes.ports, grant.id, approver="U0GROUPIE").state is GrantState.APPROVED


def test_a_group_that_cannot_be_read_means_nobody_from_it_can_approve() -> None:
    fakes = make_fakes(config(approvers=(APPROVER,), approver_group="S0UNREADABLE"), groups={})
    grant = request(fakes)
    with pytest.raises(errors.DirectoryUnavailable):
        approve_grant(fakes.ports, grant.id, approver="U0GROUPIE")
    # Someone on the registry's own list does not depend on the group.
    assert approve_grant(fakes.ports, grant.id, approver=APPROVER).state is GrantState.APPROVED


def test_policy_default_approvers_apply_to_registries_without_their_own() -> None:
    fakes = make_fakes(config(approvers=()), policy=Policy(default_approvers=("U0DEFAULT",)))
    grant = request(fakes)
    assert approve_grant(fakes.ports, grant.id, approver="U0DEFAULT").state is GrantState.APPROVED


def test_extension_within_policy_by_an_approver() -> None:
    fakes = make_fakes()
    grant = active(fakes)
    assert grant.expires_at is not None
    with pytest.raises(errors.SelfDecision):
        extend_grant(fakes.ports, grant.id, approver=REQUESTER, duration=timedelta(hours=1))
    extended = extend_grant(fakes.ports, grant.id, approver=APPROVER, duration=timedelta(hours=4))
    assert extended.expires_at == grant.expires_at + timedelta(hours=4)
    assert extended.extension_count == 1


def test_extension_beyond_the_maximum_total_duration_is_capped_then_refused() -> None:
    policy = Policy(max_total_duration=timedelta(hours=26), max_extensions=5)
    fakes = make_fakes(policy=policy)
    grant = active(fakes)  # 1 h
    once = extend_grant(fakes.ports, grant.id, approver=APPROVER, duration=timedelta(hours=24))
    assert once.activated_at is not None
    assert once.expires_at is not None
    assert once.expires_at - once.activated_at == timedelta(hours=25)
    twice = extend_grant(fakes.ports, grant.id, approver=APPROVER, duration=timedelta(hours=4))
    assert twice.expires_at is not None
    assert twice.expires_at - once.activated_at == timedelta(hours=26)
    with pytest.raises(errors.ExtensionRefused):
        extend_grant(fakes.ports, grant.id, approver=APPROVER, duration=timedelta(hours=1))


def test_extension_after_the_expiry_passed_is_refused_even_before_the_sweep() -> None:
    fakes = make_fakes()
    grant = active(fakes)
    fakes.clock.advance(timedelta(hours=1, seconds=1))  # expired, not swept yet
    with pytest.raises(errors.ExtensionRefused) as refused:
        extend_grant(fakes.ports, grant.id, approver=APPROVER, duration=timedelta(hours=1))
    assert "expired" in refused.value.message
    assert fakes.grants.get(grant.id)[0].expires_at == grant.expires_at


def test_revoke_by_requester_or_approver_never_a_stranger() -> None:
    fakes = make_fakes()
    mine = active(fakes, "20.1.2.3")
    theirs = active(fakes, "20.1.2.4")
    with pytest.raises(errors.NotRequesterOrApprover):
        revoke_grant(fakes.ports, mine.id, actor="U0STRANGER")
    assert revoke_grant(fakes.ports, mine.id, actor=REQUESTER).state is GrantState.REVOKED
    revoked = revoke_grant(fakes.ports, theirs.id, actor=APPROVER, reason="incident over")
    assert revoked.ended_by == APPROVER
    assert revoked.end_reason == "incident over"
    with pytest.raises(errors.AlreadyDecided):
        revoke_grant(fakes.ports, theirs.id, actor=APPROVER)


def test_action_on_an_unknown_or_malformed_grant_id_is_not_found() -> None:
    fakes = make_fakes()
    for grant_id in ("01J00000000000000000000000", "../../etc", ""):
        with pytest.raises(errors.GrantNotFound):
            approve_grant(fakes.ports, grant_id, approver=APPROVER)


def test_each_extension_request_and_answer_is_a_notice_of_its_own() -> None:
    # A second request after a refusal used the first one's key (`extension_count` had not
    # moved), so the delivery that mentions the approvers was taken for a repeat and never sent.
    from services.domain.jobs import reached
    from services.flows.decisions import deny_extension_of, request_extension_of

    fakes = make_fakes()
    grant = active(fakes)
    hour = timedelta(hours=1)
    request_extension_of(fakes.ports, grant.id, actor=REQUESTER, duration=hour)
    deny_extension_of(fakes.ports, grant.id, approver=APPROVER)
    request_extension_of(fakes.ports, grant.id, actor=REQUESTER, duration=hour)
    deny_extension_of(fakes.ports, grant.id, approver=APPROVER)
    request_extension_of(fakes.ports, grant.id, actor=REQUESTER, duration=hour)
    extend_grant(fakes.ports, grant.id, approver=APPROVER)
    request_extension_of(fakes.ports, grant.id, actor=REQUESTER, duration=hour)
    notices = [
        j.job
        for j in fakes.jobs.jobs
        if isinstance(j.job, GrantNotice) and j.job.event.value.startswith("exten")
    ]
    assert [n.event for n in notices] == [
        GrantEvent.EXTENSION_REQUESTED,
        GrantEvent.EXTENSION_DENIED,
        GrantEvent.EXTENSION_REQUESTED,
        GrantEvent.EXTENSION_DENIED,
        GrantEvent.EXTENSION_REQUESTED,
        GrantEvent.EXTENDED,
        GrantEvent.EXTENSION_REQUESTED,
    ]
    assert len({n.key for n in notices}) == len(notices)
    # Each is seen as reached once stored, so none is dropped as a change that never happened.
    stored = fakes.ports.grants.get(grant.id)[0]
    assert all(reached(stored, n) for n in notices)
