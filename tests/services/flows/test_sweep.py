"""The sweep: expiry, lapse and stalled approvals from deadline rows, catching up after downtime,
one reconcile per registry however many grants ended there."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from services.domain.grants import GrantState
from services.flows.reconcile import ReconcileStatus
from services.flows.sweep import sweep
from tests.fakes.ports import APPROVER, config, make_fakes
from tests.services.flows.helpers import active, approved, reconcile, request


def test_due_grants_expire_and_lapse_and_their_registry_is_named_once() -> None:
    fakes = make_fakes()
    grants = [active(fakes, f"20.1.2.{i}", user=f"U{i}") for i in range(1, 6)]
    pending = request(fakes, "20.1.3.1")
    fakes.clock.advance(timedelta(hours=9))
    report = sweep(fakes.ports)
    assert {g.id for g in report.expired} == {g.id for g in grants}
    assert [g.id for g in report.lapsed] == [pending.id]
    assert report.registries == ["contoso.azurecr.io"]
    writes = fakes.registry.calls["write"]
    reconcile(fakes)
    assert fakes.registry.calls["write"] == writes + 1
    assert fakes.registry.rules("contoso") == []


def test_nothing_due_touches_nothing() -> None:
    fakes = make_fakes()
    active(fakes)
    report = sweep(fakes.ports)
    assert report.expired == []
    assert report.lapsed == []
    assert report.registries == []


def test_a_sweep_after_a_day_of_downtime_catches_up() -> None:
    fakes = make_fakes()
    old = [active(fakes, f"20.1.2.{i}", user=f"U{i}") for i in range(1, 4)]
    fakes.clock.advance(timedelta(days=1))
    report = sweep(fakes.ports)
    assert len(report.expired) == 3
    reconcile(fakes)
    assert fakes.registry.rules("contoso") == []
    assert all(fakes.grants.get(g.id)[0].released for g in old)


def test_two_sweeps_at_once_do_the_work_once() -> None:
    fakes = make_fakes()
    for i in range(1, 11):
        active(fakes, f"20.1.2.{i}", user=f"U{i}")
    fakes.clock.advance(timedelta(hours=2))
    reports = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        reports.append(sweep(fakes.ports))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(len(r.expired) for r in reports) == 10


def test_a_stalled_approval_is_reported_and_its_registry_reconciled() -> None:
    fakes = make_fakes()
    grant = approved(fakes)  # the worker that should apply it died
    fakes.clock.advance(timedelta(minutes=11))
    report = sweep(fakes.ports)
    assert [g.id for g in report.stalled] == [grant.id]
    assert report.registries == ["contoso.azurecr.io"]
    assert reconcile(fakes).status is ReconcileStatus.DONE
    assert fakes.grants.get(grant.id)[0].state is GrantState.ACTIVE


def test_one_registry_failing_does_not_stop_the_others() -> None:
    fakes = make_fakes(config("contoso"), config("fabrikam"))
    a = active(fakes, "20.1.2.3", registry="contoso.azurecr.io")
    b = active(fakes, "20.1.2.4", registry="fabrikam.azurecr.io")
    fakes.clock.advance(timedelta(hours=2))
    report = sweep(fakes.ports)
    assert set(report.registries) == {"contoso.azurecr.io", "fabrikam.azurecr.io"}
    from services.domain.errors import ArmUnavailable

    fakes.registry.fail("read", ArmUnavailable("contoso", "down"))
    assert reconcile(fakes, "contoso.azurecr.io").status is ReconcileStatus.RETRY
    assert reconcile(fakes, "fabrikam.azurecr.io").status is ReconcileStatus.DONE
    assert fakes.registry.rules("fabrikam") == []
    assert fakes.registry.rules("contoso") == ["20.1.2.3"]
    # The failing registry's work stays due: the next sweep names it again.
    assert sweep(fakes.ports).registries == ["contoso.azurecr.io"]
    assert not fakes.grants.get(a.id)[0].released
    assert fakes.grants.get(b.id)[0].released


def test_dry_run_changes_nothing() -> None:
    fakes = make_fakes()
    grant = active(fakes)
    fakes.clock.advance(timedelta(hours=2))
    report = sweep(fakes.ports, dry_run=True)
    assert [g.id for g in report.expired] == [grant.id]
    assert fakes.grants.get(grant.id)[0].state is GrantState.ACTIVE


def test_stale_index_rows_are_ignored_then_cleaned_after_the_grace() -> None:
    fakes = make_fakes()
    grant = active(fakes)
    from services.domain.grants import DeadlineKind, deadline_row

    # A row an interrupted extension left behind, pointing at a time the grant does not have.
    stale = deadline_row(DeadlineKind.EXPIRY, fakes.clock.now() + timedelta(minutes=1), grant.id)
    fakes.grants.put_rows([stale], grant.id)
    fakes.clock.advance(timedelta(minutes=2))
    assert sweep(fakes.ports).expired == []  # the row is younger than the grace: left alone
    assert (stale.partition, stale.row) in fakes.grants.index_keys("deadline|expiry")
    assert fakes.grants.get(grant.id)[0].state is GrantState.ACTIVE
    fakes.clock.advance(timedelta(minutes=4))
    sweep(fakes.ports)
    assert (stale.partition, stale.row) not in fakes.grants.index_keys("deadline|expiry")


def test_the_requester_is_reminded_once_before_expiry_and_again_after_an_extension() -> None:
    from services.domain.jobs import GrantEvent, GrantNotice
    from services.flows.decisions import extend_grant, request_extension_of

    fakes = make_fakes()
    grant = active(fakes, duration=timedelta(hours=4))
    fakes.jobs.jobs.clear()
    fakes.clock.advance(timedelta(hours=3, minutes=29))
    assert sweep(fakes.ports).reminded == []
    fakes.clock.advance(timedelta(minutes=2))  # 29 minutes left, the reminder is 30 before
    assert [g.id for g in sweep(fakes.ports).reminded] == [grant.id]
    assert sweep(fakes.ports).reminded == []  # once
    reminders = [
        j.job for j in fakes.jobs.jobs
        if isinstance(j.job, GrantNotice) and j.job.event is GrantEvent.EXPIRY_REMINDER
    ]  # fmt: skip
    assert len(reminders) == 1
    from tests.fakes.ports import REQUESTER

    request_extension_of(fakes.ports, grant.id, actor=REQUESTER, duration=timedelta(hours=1))
    extended = extend_grant(fakes.ports, grant.id, approver=APPROVER)
    assert extended.extension_requested is None
    assert extended.remind_at is not None
    fakes.clock.advance(timedelta(minutes=40))  # 49 minutes left of the new 5 h
    assert sweep(fakes.ports).reminded == []
    fakes.clock.advance(timedelta(minutes=20))  # 29 minutes left
    assert [g.id for g in sweep(fakes.ports).reminded] == [grant.id]


def test_approvers_are_reminded_once_before_a_request_lapses() -> None:
    fakes = make_fakes()
    pending = request(fakes)
    fakes.clock.advance(timedelta(hours=7, minutes=1))  # lapses at 8 h, reminded 1 h before
    assert [g.id for g in sweep(fakes.ports).lapse_reminded] == [pending.id]
    assert sweep(fakes.ports).lapse_reminded == []


def test_an_extension_is_asked_by_the_requester_and_decided_by_an_approver() -> None:
    from services.domain import errors
    from services.flows.decisions import (
        deny_extension_of,
        extend_grant,
        request_extension_of,
    )
    from tests.fakes.ports import REQUESTER

    fakes = make_fakes()
    grant = active(fakes)
    with pytest.raises(errors.NotRequester):
        request_extension_of(fakes.ports, grant.id, actor=APPROVER, duration=timedelta(hours=1))
    asked = request_extension_of(
        fakes.ports, grant.id, actor=REQUESTER, duration=timedelta(hours=4)
    )
    assert asked.extension_requested == timedelta(hours=4)
    with pytest.raises(errors.SelfDecision):
        extend_grant(fakes.ports, grant.id, approver=REQUESTER)
    denied = deny_extension_of(fakes.ports, grant.id, approver=APPROVER)
    assert denied.extension_requested is None
    assert denied.expires_at == grant.expires_at
    with pytest.raises(errors.ExtensionRefused):
        extend_grant(fakes.ports, grant.id, approver=APPROVER)  # nothing asked any more


def test_a_pending_grant_whose_card_never_went_out_is_announced_again() -> None:
    # Defect 4: a worker killed between the slot claim and queuing the approval card left a
    # pending grant that blocked its address until it lapsed, and no approver ever saw it.
    from services.domain.grants import APPROVAL_CARD, MessageRef
    from services.domain.jobs import GrantEvent, GrantNotice

    fakes = make_fakes()
    hidden = request(fakes, "20.1.2.3")
    seen = request(fakes, "20.1.2.4", user="U0OTHER")
    fakes.grants.add_message(seen.id, MessageRef(kind=APPROVAL_CARD, channel="C1", ts="1.0"))
    fakes.jobs.jobs.clear()  # the notices were lost with the worker
    assert sweep(fakes.ports).reannounced == []  # too early: the card may only be slow
    fakes.clock.advance(timedelta(minutes=3))
    report = sweep(fakes.ports)
    assert [g.id for g in report.reannounced] == [hidden.id]
    [notice] = [j.job for j in fakes.jobs.jobs if isinstance(j.job, GrantNotice)]
    assert (notice.grant_id, notice.event) == (hidden.id, GrantEvent.REQUESTED)


def test_the_sweep_reads_each_registrys_grants_once() -> None:
    # Whether a registry has work and whether it has active grants to check are answered from
    # one read of its partition (each row read costs a point read of its grant).
    from services.domain.grants import registry_partition

    fakes = make_fakes(config(), config("fabrikam"))
    active(fakes)
    active(fakes, "20.1.2.4", registry="fabrikam.azurecr.io")
    fakes.grants.partition_reads.clear()
    report = sweep(fakes.ports)
    assert report.to_check == ["contoso.azurecr.io", "fabrikam.azurecr.io"]
    for login in report.to_check:
        assert fakes.grants.partition_reads[registry_partition(login)] == 1
