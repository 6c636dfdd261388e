"""Pure unit tests: the grant state machine, the checks on what people type, the index rows."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.domain import errors
from services.domain import grants as g
from services.domain.grants import Grant, GrantState, Requester
from services.domain.ids import is_ulid, new_ulid, ulid_time
from services.domain.policy import Policy

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
POLICY = Policy()
REQUESTER = Requester(user_id="UREQ", team_id="T1")
APPROVERS = frozenset({"UAPP", "UAPP2", "UREQ"})


def make_grant(state: GrantState = GrantState.PENDING, **extra: Any) -> Grant:
    fields: dict[str, Any] = {
        "id": new_ulid(T0),
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
    if state in g.NEEDS_RULE_STATES | g.RULE_ENDED_STATES:
        fields["approved_duration"] = timedelta(hours=1)
        fields["activation_due_at"] = T0 + timedelta(minutes=11)
    if state in {GrantState.ACTIVE, GrantState.EXPIRED, GrantState.REVOKED}:
        fields.update(
            activated_at=T0 + timedelta(minutes=2),
            expires_at=T0 + timedelta(hours=1, minutes=2),
        )
    fields.update(extra)
    return Grant(**fields)


LATER = T0 + timedelta(minutes=5)
OPERATIONS: dict[str, tuple[GrantState, frozenset[GrantState], Callable[[Grant], Grant]]] = {
    "approve": (
        GrantState.APPROVED,
        frozenset({GrantState.PENDING}),
        lambda x: g.approve(x, approver="UAPP", approvers=APPROVERS, now=LATER, policy=POLICY),
    ),
    "deny": (
        GrantState.DENIED,
        frozenset({GrantState.PENDING}),
        lambda x: g.deny(x, approver="UAPP", approvers=APPROVERS, now=LATER, reason="no"),
    ),
    "withdraw": (
        GrantState.WITHDRAWN,
        frozenset({GrantState.PENDING}),
        lambda x: g.withdraw(x, actor="UREQ", now=LATER),
    ),
    "lapse": (
        GrantState.LAPSED,
        frozenset({GrantState.PENDING}),
        lambda x: g.lapse(x, now=T0 + timedelta(hours=9)),
    ),
    "activate": (
        GrantState.ACTIVE,
        frozenset({GrantState.APPROVED}),
        lambda x: g.activate(x, now=LATER, policy=POLICY, entry="20.103.186.69"),
    ),
    "fail": (
        GrantState.FAILED,
        frozenset({GrantState.APPROVED}),
        lambda x: g.fail(x, reason="ARM said no", now=LATER),
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
        frozenset({GrantState.APPROVED, GrantState.ACTIVE}),
        lambda x: g.revoke(
            x, actor="UREQ", approvers=APPROVERS, now=T0 + timedelta(minutes=30), reason="done"
        ),
    ),
}


def test_operations_cover_exactly_the_state_machine() -> None:
    edges = {(src, target) for target, sources, _ in OPERATIONS.values() for src in sources}
    # pending → pending is a first approval of two (covered below).
    edges.add((GrantState.PENDING, GrantState.PENDING))
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
        with pytest.raises(errors.Conflict):
            run(grant)


def test_a_first_approval_of_two_keeps_the_request_pending() -> None:
    grant = make_grant(required_approvals=2, requested_duration=timedelta(hours=4))
    once = g.approve(
        grant,
        approver="UAPP",
        approvers=APPROVERS,
        now=LATER,
        policy=POLICY,
        duration=timedelta(hours=1),
    )
    assert once.state is GrantState.PENDING
    assert once.approvers_so_far == ("UAPP",)
    with pytest.raises(errors.AlreadyApproved):
        g.approve(once, approver="UAPP", approvers=APPROVERS, now=LATER, policy=POLICY)
    twice = g.approve(once, approver="UAPP2", approvers=APPROVERS, now=LATER, policy=POLICY)
    assert twice.state is GrantState.APPROVED
    assert twice.approved_duration == timedelta(hours=1)  # the shorter of the two choices


def test_activation_starts_the_clock_bounded_by_the_policy() -> None:
    grant = make_grant(GrantState.APPROVED, approved_duration=timedelta(hours=24))
    policy = Policy(max_duration=timedelta(hours=8), allowed_durations=(timedelta(hours=8),),
                    default_duration=timedelta(hours=8))  # fmt: skip
    active = g.activate(grant, now=LATER, policy=policy, entry="20.103.186.69")
    assert active.expires_at == LATER + timedelta(hours=8)
    assert active.rule_entry == "20.103.186.69"
    assert not active.rule_preexisted


def test_activation_under_a_foreign_rule_keeps_it_foreign() -> None:
    active = g.activate(
        make_grant(GrantState.APPROVED),
        now=LATER,
        policy=POLICY,
        entry=None,
        covered_by="20.103.186.0/24",
    )
    assert active.rule_preexisted
    assert active.rule_entry is None
    assert active.covered_by == "20.103.186.0/24"


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("deploying the hotfix", True),
        ("  ten-chars!  ", True),
        ("short", False),
        ("\u200b" * 20 + "abc", False),
        ("          ", False),
        ("x" * 500, True),
        ("x" * 501, False),
    ],
)
def test_justification_counts_visible_characters_and_is_bounded(text: str, ok: bool) -> None:
    if ok:
        assert g.validate_justification(text, POLICY) == text.strip()
    else:
        with pytest.raises(errors.InvalidText):
            g.validate_justification(text, POLICY)


def test_reasons_are_optional_and_bounded() -> None:
    assert g.validate_reason(None, POLICY) is None
    assert g.validate_reason("   ", POLICY) is None
    assert g.validate_reason(" use the NAT gateway ", POLICY) == "use the NAT gateway"
    with pytest.raises(errors.InvalidText):
        g.validate_reason("x" * 501, POLICY)


def test_durations_follow_the_policy() -> None:
    assert g.validate_duration(None, POLICY) == timedelta(hours=4)
    assert g.validate_duration(timedelta(hours=8), POLICY) == timedelta(hours=8)
    with pytest.raises(errors.InvalidDuration, match="choose 1 h, 4 h, 8 h, 24 h"):
        g.validate_duration(timedelta(hours=3), POLICY)


def rows(grant: Grant) -> set[str]:
    return {r.partition.split("|")[0] + ("*" if r.claim else "") for r in g.index_rows(grant)}


@pytest.mark.parametrize(
    ("state", "extra", "expected"),
    [
        (
            GrantState.PENDING,
            {"cap_slot": 0},
            {"slot*", "cap*", "requester", "registry", "deadline"},
        ),
        (GrantState.APPROVED, {}, {"slot*", "requester", "registry", "deadline"}),
        (GrantState.ACTIVE, {}, {"slot*", "requester", "registry", "deadline"}),
        (GrantState.EXPIRED, {}, {"registry"}),
        (GrantState.EXPIRED, {"released": True}, set()),
        (GrantState.FAILED, {}, {"registry"}),
        (GrantState.DENIED, {}, set()),
        (GrantState.LAPSED, {}, set()),
    ],
)
def test_index_rows_follow_from_the_state_alone(state, extra, expected) -> None:
    assert rows(make_grant(state, **extra)) == expected


def test_each_open_state_has_its_one_deadline() -> None:
    def deadlines(grant: Grant) -> list[str]:
        return [r.partition for r in g.index_rows(grant) if r.partition.startswith("deadline")]

    assert deadlines(make_grant()) == ["deadline|lapse"]
    assert deadlines(make_grant(GrantState.APPROVED)) == ["deadline|activation"]
    assert deadlines(make_grant(GrantState.ACTIVE)) == ["deadline|expiry"]


def test_ulids_sort_by_time_and_carry_it() -> None:
    a, b = new_ulid(T0), new_ulid(T0 + timedelta(milliseconds=1))
    assert a < b
    assert is_ulid(a)
    assert not is_ulid("../x")
    assert ulid_time(a) == T0


# --- who made a grant what it is, for the refusal a late click gets ---------------------------


def test_a_late_click_on_an_expired_grant_names_no_approver_and_the_deadline() -> None:
    grant = g.expire(make_grant(GrantState.ACTIVE), now=T0 + timedelta(hours=3))
    with pytest.raises(errors.AlreadyDecided) as caught:
        g.revoke(grant, actor="UAPP", approvers=APPROVERS, now=T0 + timedelta(hours=4), reason=None)
    # Not "expired by the approver": the bot ended it, at its deadline.
    assert caught.value.decided_by is None
    assert caught.value.decided_at == grant.expires_at


def test_a_late_click_on_a_revoked_grant_names_who_revoked_it() -> None:
    grant = g.revoke(
        make_grant(GrantState.ACTIVE), actor="UAPP2", approvers=APPROVERS, now=LATER, reason=None
    )
    with pytest.raises(errors.AlreadyDecided) as caught:
        g.revoke(grant, actor="UREQ", approvers=APPROVERS, now=LATER, reason=None)
    assert (caught.value.decided_by, caught.value.decided_at) == ("UAPP2", LATER)


def test_a_late_click_on_a_decided_grant_names_its_approver() -> None:
    grant = make_grant(GrantState.APPROVED)
    with pytest.raises(errors.AlreadyDecided) as caught:
        g.deny(grant, approver="UAPP2", approvers=APPROVERS, now=LATER, reason=None)
    assert (caught.value.decided_by, caught.value.decided_at) == ("UAPP", grant.decided_at)


# --- reasons and extension decisions ------------------------------------------------------------


def test_a_reason_is_optional_unless_required() -> None:
    assert g.validate_reason("  ", POLICY) is None
    assert g.validate_reason(" done ", POLICY, required=True) == "done"
    with pytest.raises(errors.InvalidText, match="Please say why"):
        g.validate_reason("\u200b ", POLICY, required=True)
    with pytest.raises(errors.InvalidText, match="Please say why"):
        g.validate_reason(None, POLICY, required=True)


def test_extension_decisions_are_kept_with_who_and_how_much() -> None:
    grant = make_grant(GrantState.ACTIVE)
    asked = g.request_extension(
        grant, actor="UREQ", duration=timedelta(hours=1), now=LATER, policy=POLICY
    )
    refused = g.deny_extension(asked, approver="UAPP", approvers=APPROVERS, now=LATER)
    asked_again = g.request_extension(
        refused, actor="UREQ", duration=timedelta(hours=4), now=LATER, policy=POLICY
    )
    extended = g.extend(
        asked_again,
        approver="UAPP2",
        approvers=APPROVERS,
        duration=None,
        now=LATER,
        policy=POLICY,
    )
    assert [(d.by, d.asked, d.added) for d in extended.extensions] == [
        ("UAPP", timedelta(hours=1), None),
        ("UAPP2", timedelta(hours=4), timedelta(hours=4)),
    ]
    assert extended.expires_at == grant.expires_at + timedelta(hours=4)


def test_an_extension_capped_by_the_total_records_what_was_added() -> None:
    policy = Policy(
        max_total_duration=timedelta(minutes=90),
        max_duration=timedelta(hours=1),
        default_duration=timedelta(hours=1),
        allowed_durations=(timedelta(minutes=30), timedelta(hours=1)),
    )
    grant = make_grant(GrantState.ACTIVE)  # runs 1 h from activation
    asked = g.request_extension(
        grant, actor="UREQ", duration=timedelta(hours=1), now=LATER, policy=policy
    )
    extended = g.extend(
        asked, approver="UAPP", approvers=APPROVERS, duration=None, now=LATER, policy=policy
    )
    [decision] = extended.extensions
    assert decision.asked == timedelta(hours=1)
    assert decision.added == timedelta(minutes=30)  # 90 min in all from activation


def test_a_grant_stored_before_the_extension_history_keeps_its_count() -> None:
    # Stored grants are JSON: one written before `extensions` existed has only the count, which
    # still bounds further extensions and still numbers the answers.
    stored = make_grant(GrantState.ACTIVE).model_dump(mode="json")
    stored.pop("extensions")
    stored["extension_count"] = POLICY.max_extensions
    grant = Grant.model_validate_json(json.dumps(stored))
    assert (grant.extensions, grant.extension_answers) == ((), POLICY.max_extensions)
    with pytest.raises(errors.ExtensionRefused, match="the most allowed"):
        g.request_extension(
            grant, actor="UREQ", duration=timedelta(hours=1), now=LATER, policy=POLICY
        )


def test_extension_answers_count_grants_and_refusals() -> None:
    grant = make_grant(GrantState.ACTIVE)
    hour = timedelta(hours=1)
    asked = g.request_extension(grant, actor="UREQ", duration=hour, now=LATER, policy=POLICY)
    refused = g.deny_extension(asked, approver="UAPP", approvers=APPROVERS, now=LATER)
    assert (refused.extension_count, refused.extension_answers) == (0, 1)
    asked = g.request_extension(refused, actor="UREQ", duration=hour, now=LATER, policy=POLICY)
    extended = g.extend(
        asked, approver="UAPP", approvers=APPROVERS, duration=None, now=LATER, policy=POLICY
    )
    assert (extended.extension_count, extended.extension_answers) == (1, 2)
