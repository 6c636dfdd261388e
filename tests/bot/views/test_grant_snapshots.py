"""Snapshots of what people see about a grant: the approval card and the requester's message in
every state (as posted and as each update rewrites them), the pings under the requester's message,
the replies under the card that mention the approvers, and the registry-change message."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from syrupy.assertion import SnapshotAssertion

from bot.views.grants import (
    approval_card,
    approval_text,
    extension_asked,
    lapse_reminder,
    registry_change_message,
    requester_message,
    requester_ping,
    rule_vanished,
)
from services.domain import grants as g
from services.domain.grants import AGAIN_STATES, Grant
from services.domain.jobs import GrantEvent, RegistryNotice
from tests.bot.views.samples import (
    APPROVER,
    APPROVER_2,
    APPROVERS,
    GRANTS,
    POLICY,
    REQUESTER,
    active,
    at,
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


#: Where the approval card went, as the requester's message says while it waits.
SENT_TO = f"{APPROVERS} in <#C0APPROVALS>"
#: "Request again"'s sealed value (only its place on the message matters here).
AGAIN = "v1.AGAIN.6f1c0a9e2b7d4c3a"


@pytest.mark.parametrize("variant", list(GRANTS))
def test_requester_message(variant: str, snapshot_json: SnapshotAssertion) -> None:
    """The requester's one message, as each state rewrites it (with "Request again" where the
    notices offer it)."""
    grant = GRANTS[variant]()
    again = AGAIN if grant.state in AGAIN_STATES else None
    assert (
        message(*requester_message(grant, policy=POLICY, sent_to=SENT_TO, again=again))
        == snapshot_json
    )


def test_no_ask_for_more_time_once_the_policy_allows_no_more() -> None:
    def offered(grant: Grant) -> bool:
        return "grant_extend_ask" in json.dumps(message(*requester_message(grant, policy=POLICY)))

    assert offered(GRANTS["active"]())
    assert not offered(GRANTS["active_extended_the_most_allowed"]())
    at_the_total = GRANTS["active"]()
    assert at_the_total.activated_at is not None
    at_the_total = at_the_total.model_copy(
        update={"expires_at": at_the_total.activated_at + POLICY.max_total_duration}
    )
    assert not offered(at_the_total)


#: The grant each event is told about, in the state the notice finds it, and who acted.
EVENTS: dict[str, tuple[GrantEvent, Callable[[], Grant], str | None]] = {
    "activated": (GrantEvent.ACTIVATED, active, None),
    "activated_shorter": (GrantEvent.ACTIVATED, lambda: active(GRANTS["approved_shorter"]()), None),
    "expiry_reminder": (GrantEvent.EXPIRY_REMINDER, active, None),
    "extended": (GrantEvent.EXTENDED, GRANTS["active_extended"], APPROVER_2),
    "extension_denied": (
        GrantEvent.EXTENSION_DENIED,
        lambda: g.deny_extension(
            _extension_asked(), approver=APPROVER_2, approvers=(APPROVER, APPROVER_2), now=at(205)
        ),
        APPROVER_2,
    ),
    "denied": (GrantEvent.DENIED, GRANTS["denied"], APPROVER),
    "denied_with_reason": (GrantEvent.DENIED, GRANTS["denied_with_reason"], APPROVER),
    "failed": (GrantEvent.FAILED, GRANTS["failed"], None),
    "lapsed": (GrantEvent.LAPSED, GRANTS["lapsed"], None),
    "revoked_with_reason": (
        GrantEvent.REVOKED,
        GRANTS["revoked_by_an_approver_with_reason"],
        APPROVER,
    ),
    "rule_vanished": (GrantEvent.RULE_VANISHED, GRANTS["active_rule_vanished"], None),
}

#: Events the update in place says enough about: the requester did it, or nothing changes for
#: them until the next step (which pings).
SILENT = {
    GrantEvent.REQUESTED,
    GrantEvent.APPROVAL_ADDED,
    GrantEvent.APPROVED,
    GrantEvent.APPLY_DELAYED,
    GrantEvent.EXTENSION_REQUESTED,
    GrantEvent.WITHDRAWN,
    GrantEvent.EXPIRED,
    GrantEvent.RULE_REMOVED,
    GrantEvent.LAPSE_REMINDER,
}


@pytest.mark.parametrize("variant", list(EVENTS))
def test_requester_ping(variant: str, snapshot_json: SnapshotAssertion) -> None:
    event, grant, actor = EVENTS[variant]
    ping = requester_ping(grant(), event, actor=actor)
    assert ping is not None
    assert message(ping) == snapshot_json


def test_every_event_pings_or_is_deliberately_silent() -> None:
    pinged = {event for event, *_ in EVENTS.values()}
    assert pinged | SILENT == set(GrantEvent)
    assert not pinged & SILENT
    for event in SILENT:
        assert requester_ping(GRANTS["active"](), event) is None


def test_a_requester_who_revoked_their_own_grant_is_not_pinged_about_it() -> None:
    assert requester_ping(GRANTS["revoked_by_the_requester"](), GrantEvent.REVOKED) is None


def test_approver_replies(snapshot_json: SnapshotAssertion) -> None:
    """The replies under the card that mention the approvers, and the one about a rule gone."""
    replies = {
        "extension_asked": extension_asked(_extension_asked(), approvers=APPROVERS),
        "lapse_reminder": lapse_reminder(pending(), approvers=APPROVERS),
        "rule_vanished": rule_vanished(GRANTS["active_rule_vanished"]()),
    }
    assert {k: message(v) for k, v in replies.items()} == snapshot_json


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
