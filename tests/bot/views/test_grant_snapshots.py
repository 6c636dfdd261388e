"""Snapshots of what people see about a grant: the approval card in every state (as posted and as
each update rewrites it), what the requester is told at each event, and the registry-change
message for the approvers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from syrupy.assertion import SnapshotAssertion

from bot.views.grants import (
    approval_card,
    approval_text,
    registry_change_message,
    requester_message,
)
from services.domain import grants as g
from services.domain.grants import Grant
from services.domain.jobs import GrantEvent, RegistryNotice
from tests.bot.views.samples import (
    APPROVER,
    APPROVER_2,
    APPROVERS,
    GRANTS,
    POLICY,
    REQUESTER,
    active,
    approved,
    at,
    expired,
    message,
    pending,
)


@pytest.mark.parametrize("variant", list(GRANTS))
def test_approval_card(variant: str, snapshot_json: SnapshotAssertion) -> None:
    grant = GRANTS[variant]()
    card = approval_card(grant, approvers=APPROVERS, policy=POLICY)
    assert message(approval_text(grant), card) == snapshot_json


def test_approval_card_without_approvers_configured(snapshot_json: SnapshotAssertion) -> None:
    grant = GRANTS["pending"]()
    assert message(approval_text(grant), approval_card(grant, approvers="", policy=POLICY)) == (
        snapshot_json
    )


def _extension_asked() -> Grant:
    return g.request_extension(
        active(), actor=REQUESTER, duration=timedelta(hours=1), now=at(200), policy=POLICY
    )


#: The grant each event is told about, in the state the notice finds it, and who acted.
EVENTS: dict[str, tuple[GrantEvent, Callable[[], Grant], str | None, str]] = {
    "requested": (GrantEvent.REQUESTED, pending, None, f"{APPROVERS} in <#C0APPROVALS>"),
    "requested_no_approvers_named": (GrantEvent.REQUESTED, pending, None, ""),
    "approval_added": (GrantEvent.APPROVAL_ADDED, GRANTS["pending_second_approval"], APPROVER, ""),
    "approved": (GrantEvent.APPROVED, approved, APPROVER, ""),
    "apply_delayed": (GrantEvent.APPLY_DELAYED, approved, None, ""),
    "activated": (GrantEvent.ACTIVATED, active, None, ""),
    "activated_without_a_command": (
        GrantEvent.ACTIVATED,
        lambda: active(approved(pending(command=None))),
        None,
        "",
    ),
    "expiry_reminder": (GrantEvent.EXPIRY_REMINDER, active, None, ""),
    "extension_requested": (GrantEvent.EXTENSION_REQUESTED, _extension_asked, REQUESTER, ""),
    "extended": (GrantEvent.EXTENDED, GRANTS["active_extended"], APPROVER_2, ""),
    "extension_denied": (
        GrantEvent.EXTENSION_DENIED,
        lambda: g.deny_extension(
            _extension_asked(), approver=APPROVER_2, approvers=(APPROVER, APPROVER_2), now=at(205)
        ),
        APPROVER_2,
        "",
    ),
    "denied": (GrantEvent.DENIED, GRANTS["denied"], APPROVER, ""),
    "denied_with_reason": (GrantEvent.DENIED, GRANTS["denied_with_reason"], APPROVER, ""),
    "failed": (GrantEvent.FAILED, GRANTS["failed"], None, ""),
    "lapsed": (GrantEvent.LAPSED, GRANTS["lapsed"], None, ""),
    "withdrawn": (GrantEvent.WITHDRAWN, GRANTS["withdrawn"], REQUESTER, ""),
    "expired": (GrantEvent.EXPIRED, expired, None, ""),
    "revoked_with_reason": (
        GrantEvent.REVOKED,
        GRANTS["revoked_by_an_approver_with_reason"],
        APPROVER,
        "",
    ),
    "revoked_by_the_requester": (GrantEvent.REVOKED, GRANTS["revoked_by_the_requester"], None, ""),
    "rule_removed": (GrantEvent.RULE_REMOVED, GRANTS["expired_rule_removed"], None, ""),
    "rule_vanished": (GrantEvent.RULE_VANISHED, GRANTS["active_rule_vanished"], None, ""),
}

#: Events the requester is not told about in their own message (the approvers are, in the
#: card's thread).
NOT_TOLD = {GrantEvent.LAPSE_REMINDER}


@pytest.mark.parametrize("variant", list(EVENTS))
def test_requester_message(variant: str, snapshot_json: SnapshotAssertion) -> None:
    event, grant, actor, approvers = EVENTS[variant]
    told = requester_message(grant(), event, actor=actor, approvers=approvers)
    assert told is not None
    assert message(*told) == snapshot_json


def test_every_event_is_snapshotted_or_deliberately_silent() -> None:
    covered = {event for event, *_ in EVENTS.values()}
    assert covered | NOT_TOLD == set(GrantEvent)
    for event in NOT_TOLD:
        assert requester_message(GRANTS["pending"](), event) is None


#: Rules that changed while the bot wrote: by someone, by a late write of the bot's, or added.
NOTICES: dict[str, tuple[RegistryNotice, str]] = {
    "rule_vanished_someone_edited": (
        RegistryNotice(
            registry="contosoprod.azurecr.io",
            vanished=("193.17.128.0/24",),
            rules_before=("4.175.12.34", "193.17.128.0/24"),
            rules_written=("4.175.12.34", "193.17.128.0/24", "91.38.188.165"),
            rules_after=("4.175.12.34", "91.38.188.165"),
        ),
        APPROVERS,
    ),
    "rule_vanished_late_write": (
        RegistryNotice(
            registry="contosoprod.azurecr.io",
            vanished=("20.76.1.10", "20.76.1.11"),
            late=True,
            rules_before=("4.175.12.34", "20.76.1.10", "20.76.1.11"),
            rules_written=("4.175.12.34", "20.76.1.10", "20.76.1.11", "91.38.188.165"),
            rules_after=("4.175.12.34", "91.38.188.165"),
        ),
        APPROVERS,
    ),
    "rule_appeared": (
        RegistryNotice(
            registry="contosoprod.azurecr.io",
            appeared=("52.166.0.0/28",),
            rules_before=("4.175.12.34",),
            rules_written=("4.175.12.34", "91.38.188.165"),
            rules_after=("4.175.12.34", "52.166.0.0/28", "91.38.188.165"),
        ),
        APPROVERS,
    ),
    "both_without_approvers": (
        RegistryNotice(
            registry="contosoprod.azurecr.io",
            vanished=("193.17.128.0/24",),
            appeared=("52.166.0.0/28",),
            rules_before=("193.17.128.0/24",),
            rules_written=("193.17.128.0/24", "91.38.188.165"),
            rules_after=("52.166.0.0/28", "91.38.188.165"),
        ),
        "",
    ),
}


@pytest.mark.parametrize("variant", list(NOTICES))
def test_registry_change_message(variant: str, snapshot_json: SnapshotAssertion) -> None:
    notice, approvers = NOTICES[variant]
    assert message(*registry_change_message(notice, approvers=approvers)) == snapshot_json
