"""The registry reconcile on fakes: one PATCH for everything waiting, intent before the PATCH, and
no rule that outlives its grant (docs/ARCHITECTURE.md, "Reconciling a registry"; invariants 1,
2, 7)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.domain.errors import ArmError, ArmUnavailable, QuotaHeadroomExhausted
from services.domain.grants import GrantState
from services.domain.jobs import GrantEvent, GrantNotice
from services.domain.reconcile import EntryState
from services.flows.decisions import approve_grant, revoke_grant
from services.flows.reconcile import ReconcileStatus, reconcile_registry
from services.flows.sweep import sweep
from tests.fakes.ports import APPROVER, APPROVER_2, REQUESTER, config, make_fakes
from tests.services.flows.helpers import LOGIN, active, approved, reconcile, request, state_of


class Crash(BaseException):
    """A process dying: nothing in the code under test may catch it."""


def notices(fakes, event: GrantEvent) -> list[str]:
    return [
        j.job.grant_id
        for j in fakes.jobs.jobs
        if isinstance(j.job, GrantNotice) and j.job.event is event
    ]


def test_an_approval_is_applied_verified_and_owned() -> None:
    fakes = make_fakes()
    grant = approved(fakes)
    report = reconcile(fakes)
    assert report.status is ReconcileStatus.DONE
    assert report.patched
    assert fakes.registry.rules("contoso") == ["20.1.2.3"]
    stored = fakes.ports.grants.get(grant.id)[0]
    assert stored.state is GrantState.ACTIVE
    assert stored.rule_entry == "20.1.2.3"
    assert not stored.rule_preexisted
    assert stored.expires_at == fakes.clock.now() + timedelta(hours=1)
    [entry] = fakes.grants.entries(LOGIN)
    assert (entry.value, entry.state) == ("20.1.2.3", EntryState.PRESENT)
    assert grant.id in notices(fakes, GrantEvent.ACTIVATED)
    # One read of the quota, one GET, one PATCH (the read back is part of the write).
    assert fakes.registry.calls == {"usage": 1, "read": 1, "write": 1}


def test_nothing_to_do_calls_no_arm_at_all() -> None:
    fakes = make_fakes()
    request(fakes)  # pending: no rule needed yet
    report = reconcile(fakes)
    assert report.status is ReconcileStatus.NOTHING_TO_DO
    assert sum(fakes.registry.calls.values()) == 0


def test_a_busy_lock_asks_to_run_again_without_calling_arm() -> None:
    fakes = make_fakes()
    approved(fakes)
    fakes.lock.hold_externally("contoso")
    report = reconcile(fakes)
    assert report.status is ReconcileStatus.BUSY
    assert report.retry_after is not None
    assert report.retry_after <= timedelta(seconds=5)
    assert sum(fakes.registry.calls.values()) == 0
    fakes.lock.release_externally("contoso")
    assert reconcile(fakes).status is ReconcileStatus.DONE


def test_fifty_approvals_cost_one_patch() -> None:
    fakes = make_fakes()
    grants = [approved(fakes, f"20.1.0.{i + 1}", user=f"U{i:04d}") for i in range(50)]
    report = reconcile(fakes)
    assert report.patched
    assert len(report.activated) == 50
    assert fakes.registry.calls["write"] == 1
    assert len(fakes.registry.rules("contoso")) == 50
    assert {state_of(fakes, g) for g in grants} == {"active"}


def test_expiry_racing_an_approval_for_the_same_ip_keeps_the_rule() -> None:
    # Defect 1: grant 1 expires and its rule becomes removable; grant 2 for the same address is
    # approved before the reconcile runs. The rule must stay, owned, while grant 2 is active.
    fakes = make_fakes()
    first = active(fakes)
    fakes.clock.advance(timedelta(hours=1, minutes=1))
    assert [g.id for g in sweep(fakes.ports).expired] == [first.id]
    second = approved(fakes)
    report = reconcile(fakes)
    assert report.status is ReconcileStatus.DONE
    assert not report.patched  # nothing to add or remove: the entry is shared
    assert fakes.registry.rules("contoso") == ["20.1.2.3"]
    stored = fakes.ports.grants.get(second.id)[0]
    assert stored.state is GrantState.ACTIVE
    assert not stored.rule_preexisted  # it shares the bot's entry; it is not somebody else's
    assert first.id not in notices(fakes, GrantEvent.RULE_REMOVED)
    # And when the second ends, the bot's entry goes.
    fakes.clock.advance(timedelta(hours=1, minutes=1))
    sweep(fakes.ports)
    reconcile(fakes)
    assert fakes.registry.rules("contoso") == []
    assert second.id in notices(fakes, GrantEvent.RULE_REMOVED)


def test_patch_accepted_but_read_back_failing_never_leaves_a_permanent_rule() -> None:
    # Defect 2: the PATCH went through, then ARM failed. The entry was recorded as the bot's
    # before the PATCH, so a later reconcile treats it as owned, never as pre-existing.
    fakes = make_fakes()
    grant = approved(fakes)
    fakes.registry.fail("read_back", ArmUnavailable("contoso", "ARM kept answering 500"))
    report = reconcile(fakes)
    assert report.status is ReconcileStatus.RETRY
    assert report.retry_after is not None
    assert fakes.registry.rules("contoso") == ["20.1.2.3"]
    assert state_of(fakes, grant) == "approved"
    assert grant.id in notices(fakes, GrantEvent.APPLY_DELAYED)
    again = reconcile(fakes)
    assert again.status is ReconcileStatus.DONE
    assert not again.patched
    stored = fakes.ports.grants.get(grant.id)[0]
    assert stored.state is GrantState.ACTIVE
    assert not stored.rule_preexisted
    fakes.clock.advance(timedelta(hours=2))
    sweep(fakes.ports)
    reconcile(fakes)
    assert fakes.registry.rules("contoso") == []


def test_a_grant_failed_after_its_patch_leaves_a_removal() -> None:
    fakes = make_fakes()
    grant = approved(fakes)
    fakes.registry.fail("read_back", ArmUnavailable("contoso", "down"), times=1)
    fakes.clock.advance(timedelta(minutes=11))  # past the activation deadline
    report = reconcile(fakes)
    assert report.status is ReconcileStatus.RETRY
    assert [g.id for g in report.failed] == [grant.id]
    assert fakes.registry.rules("contoso") == ["20.1.2.3"]
    report = reconcile(fakes)  # ARM is back
    assert report.removed == ["20.1.2.3"]
    assert fakes.registry.rules("contoso") == []
    assert fakes.ports.grants.get(grant.id)[0].released


def test_a_crash_after_the_patch_is_recovered_by_the_same_reconcile() -> None:
    fakes = make_fakes()
    grant = approved(fakes)

    def crash(_name: str) -> None:
        raise Crash

    fakes.registry.after_write = crash
    with pytest.raises(Crash):
        reconcile(fakes)
    fakes.registry.after_write = None
    assert state_of(fakes, grant) == "approved"
    # The write may still be landing (nothing said it did): the registry is fenced meanwhile.
    fenced = reconcile(fakes)
    assert fenced.status is ReconcileStatus.RETRY
    assert fakes.registry.calls["write"] == 1
    assert fenced.retry_after is not None
    fakes.clock.advance(fenced.retry_after)
    reconcile(fakes)
    assert fakes.registry.rules("contoso") == ["20.1.2.3"]  # one entry, not two
    stored = fakes.ports.grants.get(grant.id)[0]
    assert stored.state is GrantState.ACTIVE
    assert stored.rule_entry == "20.1.2.3"
    assert not stored.rule_preexisted
    fakes.clock.advance(timedelta(hours=2))
    sweep(fakes.ports)
    reconcile(fakes)
    assert fakes.registry.rules("contoso") == []


def test_a_crash_between_intent_and_patch_is_recovered() -> None:
    fakes = make_fakes()
    grant = approved(fakes)
    fakes.registry.fail("write", Crash())
    with pytest.raises(Crash):
        reconcile(fakes)
    assert fakes.registry.rules("contoso") == []
    [entry] = fakes.grants.entries(LOGIN)
    assert entry.state is EntryState.INTENDED
    # The process died with the PATCH possibly sent: nothing is written until it cannot land.
    fenced = reconcile(fakes)
    assert fenced.status is ReconcileStatus.RETRY
    assert fenced.retry_after == timedelta(seconds=121)
    fakes.clock.advance(fenced.retry_after)
    reconcile(fakes)
    assert fakes.registry.rules("contoso") == ["20.1.2.3"]
    assert state_of(fakes, grant) == "active"


def test_an_administrators_duplicate_survives_the_bots_removal() -> None:
    fakes = make_fakes()
    active(fakes)
    fakes.registry.set_rules("contoso", ["20.1.2.3", "20.1.2.3/32"])  # added by hand later
    fakes.clock.advance(timedelta(hours=2))
    sweep(fakes.ports)
    report = reconcile(fakes)
    assert report.removed == ["20.1.2.3"]
    assert fakes.registry.rules("contoso") == ["20.1.2.3/32"]


def test_a_foreign_rule_covering_the_ip_is_used_and_never_removed() -> None:
    fakes = make_fakes()
    fakes.registry.set_rules("contoso", ["20.1.2.0/24"])
    grant = approved(fakes)
    report = reconcile(fakes)
    assert not report.patched
    stored = fakes.ports.grants.get(grant.id)[0]
    assert stored.state is GrantState.ACTIVE
    assert stored.rule_preexisted
    assert stored.covered_by == "20.1.2.0/24"
    fakes.clock.advance(timedelta(hours=2))
    sweep(fakes.ports)
    reconcile(fakes)
    assert fakes.registry.rules("contoso") == ["20.1.2.0/24"]
    assert fakes.registry.calls["write"] == 0


def test_ips_are_compared_as_networks() -> None:
    fakes = make_fakes()
    fakes.registry.set_rules("contoso", ["20.1.2.4/32"])
    near = approved(fakes, "20.1.2.45")  # not covered by 20.1.2.4
    same = approved(fakes, "20.1.2.4")  # covered by 20.1.2.4/32
    reconcile(fakes)
    assert fakes.registry.rules("contoso") == ["20.1.2.4/32", "20.1.2.45"]
    assert not fakes.ports.grants.get(near.id)[0].rule_preexisted
    assert fakes.ports.grants.get(same.id)[0].rule_preexisted


def test_virtual_network_rules_and_other_fields_are_sent_back_as_read() -> None:
    fakes = make_fakes()
    vnet = [{"action": "Allow", "id": "/subscriptions/s/.../subnets/aks"}]
    fakes.registry.add("contoso", vnet_rules=vnet)
    approved(fakes)
    reconcile(fakes)
    snapshot = fakes.registry.read(config())
    assert snapshot.raw["properties"]["networkRuleSet"]["virtualNetworkRules"] == vnet


def test_quota_headroom_fails_the_grant_without_a_write() -> None:
    fakes = make_fakes()
    fakes.registry.set_limit("contoso", 10)
    fakes.registry.set_rules("contoso", [f"30.0.0.{i}" for i in range(1, 6)])  # 5 used, 5 kept
    grant = approved(fakes)
    report = reconcile(fakes)
    assert [g.id for g in report.failed] == [grant.id]
    stored = fakes.ports.grants.get(grant.id)[0]
    assert stored.state is GrantState.FAILED
    assert stored.failure_reason == QuotaHeadroomExhausted(LOGIN, 5, 10, 5).message.replace(
        LOGIN, "contoso"
    )
    assert fakes.registry.calls["write"] == 0


def test_removals_free_slots_for_additions_in_the_same_patch() -> None:
    fakes = make_fakes()
    fakes.registry.set_limit("contoso", 7)  # headroom 5 leaves 2 for the bot
    one, two = active(fakes, "20.1.2.3"), active(fakes, "20.1.2.4")
    fakes.clock.advance(timedelta(hours=2))
    sweep(fakes.ports)
    three, four = approved(fakes, "20.1.2.5"), approved(fakes, "20.1.2.6")
    report = reconcile(fakes)
    assert fakes.registry.calls["write"] == 3  # two activations before, then one for all four
    assert sorted(fakes.registry.rules("contoso")) == ["20.1.2.5", "20.1.2.6"]
    assert {state_of(fakes, g) for g in (three, four)} == {"active"}
    assert {g.id for g in report.released} == {one.id, two.id}


def test_public_access_disabled_since_fails_the_grant() -> None:
    fakes = make_fakes()
    grant = approved(fakes)
    fakes.registry.set_property("contoso", "publicNetworkAccess", "Disabled")
    report = reconcile(fakes)
    assert [g.id for g in report.failed] == [grant.id]
    assert "public network access disabled" in (
        fakes.ports.grants.get(grant.id)[0].failure_reason or ""
    )
    assert fakes.registry.rules("contoso") == []


def test_missing_permission_fails_approved_grants_and_stops() -> None:
    fakes = make_fakes()
    grant = approved(fakes)
    fakes.registry.fail("read", ArmError("contoso", "may not write", status=403))
    report = reconcile(fakes)
    assert report.status is ReconcileStatus.FAILED
    assert report.retry_after is None
    assert state_of(fakes, grant) == "failed"


def test_a_rule_removed_by_hand_is_recorded_not_an_error() -> None:
    fakes = make_fakes()
    grant = active(fakes)
    fakes.registry.set_rules("contoso", [])
    fakes.clock.advance(timedelta(hours=2))
    sweep(fakes.ports)
    report = reconcile(fakes)
    assert report.status is ReconcileStatus.DONE
    assert report.gone == ["20.1.2.3"]
    assert not report.patched
    assert fakes.grants.entries(LOGIN) == []
    assert fakes.ports.grants.get(grant.id)[0].released
    [change] = [e for e in fakes.audit.for_registry(LOGIN) if e.detail and e.detail["gone"]]
    assert change.detail is not None
    assert change.detail["written"] is False


def test_an_active_grants_vanished_rule_is_flagged_once() -> None:
    fakes = make_fakes()
    grant = active(fakes)
    fakes.registry.set_rules("contoso", [])
    first = reconcile(fakes, check=True)
    assert [g.id for g in first.vanished] == [grant.id]
    second = reconcile(fakes, check=True)
    assert second.vanished == []
    assert notices(fakes, GrantEvent.RULE_VANISHED) == [grant.id]
    assert fakes.registry.rules("contoso") == []  # the bot does not put back what people removed


def test_a_concurrent_removal_of_a_foreign_rule_fails_verification_and_retries() -> None:
    fakes = make_fakes()
    fakes.registry.set_rules("contoso", ["40.0.0.1"])
    grant = approved(fakes)

    def foreign_writer(_name: str) -> None:
        fakes.registry.set_rules("contoso", ["20.1.2.3"])  # someone deleted 40.0.0.1 meanwhile

    fakes.registry.after_write = foreign_writer
    report = reconcile(fakes)
    assert report.status is ReconcileStatus.RETRY
    assert "40.0.0.1" in (report.error or "")
    assert state_of(fakes, grant) == "approved"
    fakes.registry.after_write = None
    assert reconcile(fakes).status is ReconcileStatus.DONE
    assert state_of(fakes, grant) == "active"


def test_revoking_removes_the_rule_at_once() -> None:
    fakes = make_fakes()
    grant = active(fakes)
    revoke_grant(fakes.ports, grant.id, actor=REQUESTER)
    reconcile(fakes)
    assert fakes.registry.rules("contoso") == []
    assert grant.id in notices(fakes, GrantEvent.RULE_REMOVED)


def test_a_grant_revoked_while_being_applied_leaves_no_rule() -> None:
    fakes = make_fakes()
    grant = approved(fakes)

    def revoke_meanwhile(_name: str) -> None:
        revoke_grant(fakes.ports, grant.id, actor=APPROVER_2)

    fakes.registry.after_write = revoke_meanwhile
    reconcile(fakes)
    fakes.registry.after_write = None
    assert state_of(fakes, grant) == "revoked"
    reconcile(fakes)
    assert fakes.registry.rules("contoso") == []


def test_dry_run_plans_and_writes_nothing() -> None:
    fakes = make_fakes()
    grant = approved(fakes)
    report = reconcile_registry(fakes.ports, LOGIN, dry_run=True)
    assert report.status is ReconcileStatus.DRY_RUN
    assert report.rules_after == ["20.1.2.3"]
    assert fakes.registry.calls["write"] == 0
    assert state_of(fakes, grant) == "approved"
    assert fakes.grants.entries(LOGIN) == []


def test_two_approver_policy_applies_the_rule_at_the_second_distinct_approval() -> None:
    fakes = make_fakes(config(required_approvals=2))
    grant = request(fakes)
    first = approve_grant(fakes.ports, grant.id, approver=APPROVER)
    assert first.state is GrantState.PENDING
    assert first.approvers_so_far == (APPROVER,)
    assert reconcile(fakes).status is ReconcileStatus.NOTHING_TO_DO
    second = approve_grant(fakes.ports, grant.id, approver=APPROVER_2)
    assert second.state is GrantState.APPROVED
    reconcile(fakes)
    assert fakes.registry.rules("contoso") == ["20.1.2.3"]
