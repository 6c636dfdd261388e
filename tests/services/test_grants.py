"""Pure unit tests: the grant state machine and the policy checks (no storage)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services import grants as g
from services.grants import Grant, GrantState, Requester
from services.settings import PolicySettings, RegistryConfig

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
POLICY = PolicySettings()
REQUESTER = Requester(user_id="UREQ", team_id="T1")
APPROVERS = frozenset({"UAPP", "UAPP2", "UREQ"})


def make_grant(state: GrantState = GrantState.PENDING, **extra: Any) -> Grant:
    fields: dict[str, Any] = {
        "id": g.new_grant_id(T0),
        "registry": "contoso.azurecr.io",
        "ip": ipaddress.IPv4Address("20.103.186.69"),
        "requester": REQUESTER,
        "justification": "deploying the hotfix from CI",
        "requested_duration": timedelta(hours=1),
        "requested_at": T0,
        "lapses_at": T0 + timedelta(hours=8),
        "state": state,
    }
    if state is not GrantState.PENDING:
        fields.update(approver="UAPP", decided_at=T0 + timedelta(minutes=1))
    if state in {GrantState.APPROVED, GrantState.ACTIVE, GrantState.EXPIRED, GrantState.REVOKED}:
        fields["approved_duration"] = timedelta(hours=1)
    if state in {GrantState.ACTIVE, GrantState.EXPIRED, GrantState.REVOKED}:
        fields.update(
            activated_at=T0 + timedelta(minutes=2),
            expires_at=T0 + timedelta(hours=1, minutes=2),
        )
    fields.update(extra)
    return Grant(**fields)


OPERATIONS: dict[str, tuple[GrantState, frozenset[GrantState], Callable[[Grant], Grant]]] = {
    "approve": (
        GrantState.APPROVED,
        frozenset({GrantState.PENDING}),
        lambda x: g.approve(
            x, approver="UAPP", approvers=APPROVERS, now=T0 + timedelta(minutes=5), policy=POLICY
        ),
    ),
    "deny": (
        GrantState.DENIED,
        frozenset({GrantState.PENDING}),
        lambda x: g.deny(
            x, approver="UAPP", approvers=APPROVERS, now=T0 + timedelta(minutes=5), reason="no"
        ),
    ),
    "withdraw": (
        GrantState.WITHDRAWN,
        frozenset({GrantState.PENDING}),
        lambda x: g.withdraw(x, actor="UREQ", now=T0 + timedelta(minutes=5)),
    ),
    "lapse": (
        GrantState.LAPSED,
        frozenset({GrantState.PENDING}),
        lambda x: g.lapse(x, now=T0 + timedelta(hours=9)),
    ),
    "activate": (
        GrantState.ACTIVE,
        frozenset({GrantState.APPROVED}),
        lambda x: g.activate(
            x, rule_preexisted=False, now=T0 + timedelta(minutes=5), policy=POLICY
        ),
    ),
    "fail": (
        GrantState.FAILED,
        frozenset({GrantState.APPROVED}),
        lambda x: g.fail(x, reason="ARM said no", now=T0 + timedelta(minutes=5)),
    ),
    "extend": (
        GrantState.ACTIVE,
        frozenset({GrantState.ACTIVE}),
        lambda x: g.extend(
            x,
            approver="UAPP",
            approvers=APPROVERS,
            duration=timedelta(hours=1),
            now=T0 + timedelta(minutes=30),
            policy=POLICY,
        ),
    ),
    "expire": (
        GrantState.EXPIRED,
        frozenset({GrantState.ACTIVE}),
        lambda x: g.expire(x, now=T0 + timedelta(hours=2)),
    ),
    "revoke": (
        GrantState.REVOKED,
        frozenset({GrantState.ACTIVE}),
        lambda x: g.revoke(
            x, actor="UREQ", approvers=APPROVERS, now=T0 + timedelta(minutes=30), reason="done"
        ),
    ),
}


def test_operations_cover_exactly_the_state_machine() -> None:
    edges = {(src, target) for target, sources, _ in OPERATIONS.values() for src in sources}
    expected = {(src, dst) for src, targets in g.TRANSITIONS.items() for dst in targets}
    assert edges == expected


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize("state", list(GrantState))
def test_every_transition_is_allowed_or_refused(operation: str, state: GrantState) -> None:
    target, sources, run = OPERATIONS[operation]
    grant = make_grant(state)
    if state in sources:
        assert run(grant).state is target
    else:
        with pytest.raises(g.InvalidTransition) as refused:
            run(grant)
        assert refused.value.from_state is state
        assert refused.value.to_state is target


def test_already_decided_names_who_and_how() -> None:
    grant = make_grant(GrantState.APPROVED)
    with pytest.raises(g.AlreadyDecided) as refused:
        g.deny(grant, approver="UAPP2", approvers=APPROVERS, now=T0, reason=None)
    assert refused.value.decided_by == "UAPP"
    assert refused.value.state is GrantState.APPROVED
    assert "already approved by UAPP" in refused.value.message


def test_requester_cannot_decide_own_request_even_as_approver() -> None:
    with pytest.raises(g.SelfApproval):
        g.approve(make_grant(), approver="UREQ", approvers=APPROVERS, now=T0, policy=POLICY)
    with pytest.raises(g.SelfApproval):
        g.deny(make_grant(), approver="UREQ", approvers=APPROVERS, now=T0, reason=None)


def test_only_approvers_decide() -> None:
    with pytest.raises(g.NotAnApprover):
        g.approve(make_grant(), approver="USTRANGER", approvers=APPROVERS, now=T0, policy=POLICY)


def test_decision_after_lapse_deadline_is_refused() -> None:
    with pytest.raises(g.RequestLapsed):
        g.approve(
            make_grant(),
            approver="UAPP",
            approvers=APPROVERS,
            now=T0 + timedelta(hours=8),
            policy=POLICY,
        )


def test_lapse_before_deadline_is_refused() -> None:
    with pytest.raises(g.InvalidTransition):
        g.lapse(make_grant(), now=T0 + timedelta(hours=7))


def test_approver_may_grant_another_allowed_duration_only() -> None:
    approved = g.approve(
        make_grant(),
        approver="UAPP",
        approvers=APPROVERS,
        now=T0,
        policy=POLICY,
        duration=timedelta(hours=4),
    )
    assert approved.approved_duration == timedelta(hours=4)
    assert approved.approver == "UAPP"
    assert approved.decided_at == T0
    with pytest.raises(g.InvalidDuration):
        g.approve(
            make_grant(),
            approver="UAPP",
            approvers=APPROVERS,
            now=T0,
            policy=POLICY,
            duration=timedelta(hours=3),
        )


def test_activation_sets_expiry_bounded_by_policy() -> None:
    policy = PolicySettings(max_duration=timedelta(hours=2))
    grant = make_grant(GrantState.APPROVED, approved_duration=timedelta(hours=24))
    active = g.activate(grant, rule_preexisted=True, now=T0, policy=policy)
    assert active.expires_at == T0 + timedelta(hours=2)
    assert active.rule_preexisted is True
    assert active.activated_at == T0


def test_extension_adds_to_expiry_capped_at_max_from_now() -> None:
    grant = make_grant(GrantState.ACTIVE)  # expires T0+1h02
    now = T0 + timedelta(minutes=30)
    longer = g.extend(
        grant,
        approver="UAPP",
        approvers=APPROVERS,
        duration=timedelta(hours=4),
        now=now,
        policy=POLICY,
    )
    assert longer.expires_at == T0 + timedelta(hours=5, minutes=2)
    assert longer.extension_count == 1
    capped = g.extend(
        longer,
        approver="UAPP",
        approvers=APPROVERS,
        duration=timedelta(hours=24),
        now=now,
        policy=POLICY,
    )
    assert capped.expires_at == now + POLICY.max_duration
    with pytest.raises(g.InvalidExtension):
        g.extend(
            capped,
            approver="UAPP",
            approvers=APPROVERS,
            duration=timedelta(hours=1),
            now=now,
            policy=POLICY,
        )


def test_extension_count_is_limited_and_never_by_requester() -> None:
    grant = make_grant(GrantState.ACTIVE, extension_count=POLICY.max_extensions)
    with pytest.raises(g.InvalidExtension):
        g.extend(
            grant,
            approver="UAPP",
            approvers=APPROVERS,
            duration=timedelta(hours=1),
            now=T0,
            policy=POLICY,
        )
    with pytest.raises(g.SelfApproval):
        g.extend(
            make_grant(GrantState.ACTIVE),
            approver="UREQ",
            approvers=APPROVERS,
            duration=timedelta(hours=1),
            now=T0,
            policy=POLICY,
        )


def test_expire_before_expiry_is_refused() -> None:
    with pytest.raises(g.InvalidTransition):
        g.expire(make_grant(GrantState.ACTIVE), now=T0 + timedelta(hours=1))


def test_revoke_and_withdraw_check_the_actor() -> None:
    with pytest.raises(g.NotAllowed):
        g.revoke(
            make_grant(GrantState.ACTIVE), actor="UX", approvers=APPROVERS, now=T0, reason=None
        )
    revoked = g.revoke(
        make_grant(GrantState.ACTIVE), actor="UAPP2", approvers=APPROVERS, now=T0, reason="x"
    )
    assert revoked.ended_by == "UAPP2"
    with pytest.raises(g.NotAllowed):
        g.withdraw(make_grant(), actor="UAPP", now=T0)
    withdrawn = g.withdraw(make_grant(), actor="UREQ", now=T0)
    assert withdrawn.state is GrantState.WITHDRAWN
    assert withdrawn.approver is None


@pytest.mark.parametrize("text", ["20.103.186.69", " 20.103.186.69/32 "])
def test_single_public_ipv4_is_accepted(text: str) -> None:
    assert g.parse_ip(text) == ipaddress.IPv4Address("20.103.186.69")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("10.0.0.1", "private"),
        ("192.168.1.20", "private"),
        ("127.0.0.1", "loopback"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("20.103.186.0/24", "/32"),
        ("20.103.186.68/31", "/32"),
        ("2001:db8::1", "IPv4 only"),
        ("2603:1020::1/128", "IPv4 only"),
        ("x.x.x.x", "not an IPv4"),
        ("<your IP address>", "not an IPv4"),
        ("", "not an IPv4"),
    ],
)
def test_other_addresses_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(g.InvalidIp) as refused:
        g.parse_ip(text)
    assert reason in refused.value.message


def test_justification_is_stripped_and_bounded() -> None:
    assert g.validate_justification("  deploy the hotfix  ", POLICY) == "deploy the hotfix"
    with pytest.raises(g.InvalidJustification):
        g.validate_justification("   short   ", POLICY)
    with pytest.raises(g.InvalidJustification):
        g.validate_justification("x" * (POLICY.justification_max_length + 1), POLICY)


def test_durations_follow_policy() -> None:
    assert g.validate_duration(None, POLICY) == POLICY.default_duration
    assert g.validate_duration(timedelta(hours=8), POLICY) == timedelta(hours=8)
    with pytest.raises(g.InvalidDuration):
        g.validate_duration(timedelta(hours=2), POLICY)
    capped = PolicySettings(max_duration=timedelta(hours=4))
    with pytest.raises(g.InvalidDuration):
        g.validate_duration(timedelta(hours=8), capped)


def test_quota_headroom() -> None:
    g.check_quota_headroom("contoso.azurecr.io", 94, 100, POLICY)
    with pytest.raises(g.QuotaHeadroomExhausted) as refused:
        g.check_quota_headroom("contoso.azurecr.io", 95, 100, POLICY)
    assert refused.value.headroom == 5


def test_approvers_come_from_registry_else_policy_default() -> None:
    policy = PolicySettings(default_approvers=("UDEF",), default_approver_group="SDEF")
    own = RegistryConfig(
        name="contoso", subscription_id="s", resource_group="r", approvers=("UA",),
        approver_group="SOWN",
    )  # fmt: skip
    bare = RegistryConfig(name="fabrikam", subscription_id="s", resource_group="r")
    assert g.approver_group(own, policy) == "SOWN"
    assert g.approvers_for(own, policy, {"UG"}) == {"UA", "UG"}
    assert g.approver_group(bare, policy) == "SDEF"
    assert g.approvers_for(bare, policy, {"UG2"}) == {"UDEF", "UG2"}


def test_grant_ids_sort_by_time_and_carry_it() -> None:
    first = g.new_grant_id(T0)
    later = g.new_grant_id(T0 + timedelta(milliseconds=1))
    assert first < later
    assert g.grant_id_time(first) == T0
    assert g.is_grant_id(first)
    with pytest.raises(g.GrantNotFound):
        g.grant_id_time("not-a-grant")
