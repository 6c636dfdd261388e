"""What the view snapshots draw: fixed times, ids and people, grants taken through their life by
the domain's own transitions, and the payloads as the Slack SDK sends them.

Nothing here reads a clock or makes an id, so a snapshot changes only when a card does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from typing import Any

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from services.domain import grants as g
from services.domain.grants import Grant, Requester
from services.domain.policy import Policy

#: The moment a request is made (a Monday morning, UTC); later steps are minutes after it.
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
GRANT_ID = "01KJNS8W00A1B2C3D4E5F6G7H8"
TEAM = "T0CONTOSO"
REQUESTER = "U0DANA"
APPROVER = "U0ARI"
APPROVER_2 = "U0BO"
APPROVER_IDS = (APPROVER, APPROVER_2)
REGISTRY = "contosoprod.azurecr.io"
#: The approvers as cards mention them: two people and a user group.
APPROVERS = f"<@{APPROVER}>, <@{APPROVER_2}>, <!subteam^S0PLATFORM>"
#: A sealed offer as a button carries it (the real one is signed; only its length matters).
SEALED = "v1.01KJNS8W00SEALEDOFFER0000.6f1c0a9e2b7d4c3a"
POLICY = Policy()
AZURE_WARNING = (
    "20.103.186.69 is an Azure-owned address (AzureContainerApps.WestEurope): other Azure "
    "customers may send from it too, so a rule for it admits them as well. A NAT gateway gives "
    "the app an address of its own."
)


def message(text: str | None, blocks: Sequence[Block] = ()) -> dict[str, Any]:
    """A `chat.postMessage` / `chat.update` body as the SDK builds it from a builder's output:
    blocks through `to_dict` (as `slack_sdk.web` does), then through JSON and back. `text`
    None: blocks that join another builder's message."""
    payload: dict[str, Any] = {} if text is None else {"text": text}
    if blocks:
        payload["blocks"] = [b.to_dict() for b in blocks]
    return _wire(payload)


def view(built: View) -> dict[str, Any]:
    """The `view` argument of `views.open` / `views.publish` as the SDK sends it."""
    return _wire(built.to_dict())


def _wire(payload: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(payload))
    return loaded


def at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


# --- a grant's life ---------------------------------------------------------------------------


def pending(**changes: Any) -> Grant:
    """A request as the request flow stores it: 4 h asked, lapsing after the policy's 8 h."""
    values: dict[str, Any] = {
        "id": GRANT_ID,
        "registry": REGISTRY,
        "ip": IPv4Address("91.38.188.165"),
        "requester": Requester(user_id=REQUESTER, team_id=TEAM),
        "justification": "Deploying the hotfix for INC-4711 from my laptop behind the gateway",
        "requested_duration": timedelta(hours=4),
        "requested_at": NOW,
        "lapses_at": NOW + POLICY.pending_ttl,
        "lapse_remind_at": NOW + POLICY.pending_ttl - POLICY.lapse_reminder,
        "verdict": "ip_not_allowed",
        "summary": "contosoprod.azurecr.io refused 91.38.188.165: no IP rule admits it.",
        "command": "docker pull cr.contoso.cloud/nginx",
    }
    values.update(changes)
    return Grant(**values)


def approved(grant: Grant | None = None, *, duration: timedelta | None = None) -> Grant:
    return g.approve(
        grant or pending(),
        approver=APPROVER,
        approvers=APPROVER_IDS,
        now=at(10),
        policy=POLICY,
        duration=duration,
    )


def active(grant: Grant | None = None) -> Grant:
    return g.activate(grant or approved(), now=at(11), policy=POLICY, entry="91.38.188.165")


def expired(grant: Grant | None = None) -> Grant:
    return g.expire(grant or active(), now=at(11 + 4 * 60 + 1))


def revoked(*, by: str = APPROVER, reason: str | None = None) -> Grant:
    return g.revoke(active(), actor=by, approvers=APPROVER_IDS, now=at(95), reason=reason)


#: A grant in each state the approval card draws, and the variants within a state.
GRANTS: dict[str, Callable[[], Grant]] = {
    "pending": pending,
    "pending_azure_address": lambda: pending(
        ip=IPv4Address("20.103.186.69"),
        verdict="azure_service_ip",
        summary="20.103.186.69 belongs to Azure (AzureContainerApps.WestEurope).",
        warning=AZURE_WARNING,
    ),
    "pending_second_approval": lambda: g.approve(
        pending(required_approvals=2),
        approver=APPROVER,
        approvers=APPROVER_IDS,
        now=at(5),
        policy=POLICY,
    ),
    "pending_longer_than_the_policy_offers": lambda: pending(
        requested_duration=timedelta(hours=24)
    ),
    "approved": approved,
    "approved_shorter": lambda: approved(duration=timedelta(hours=1)),
    "active": active,
    "active_rule_preexisted": lambda: g.activate(
        approved(), now=at(11), policy=POLICY, entry=None, covered_by="91.38.188.0/24"
    ),
    "active_rule_vanished": lambda: g.flag_vanished(active(), now=at(40)),
    "active_extension_requested": lambda: g.request_extension(
        active(), actor=REQUESTER, duration=timedelta(hours=1), now=at(200), policy=POLICY
    ),
    "active_extended_the_most_allowed": lambda: active().model_copy(
        update={"extension_count": POLICY.max_extensions}
    ),
    "active_extended": lambda: g.extend(
        g.request_extension(
            active(), actor=REQUESTER, duration=timedelta(hours=1), now=at(200), policy=POLICY
        ),
        approver=APPROVER_2,
        approvers=APPROVER_IDS,
        duration=None,
        now=at(205),
        policy=POLICY,
    ),
    "denied": lambda: g.deny(
        pending(), approver=APPROVER, approvers=APPROVER_IDS, now=at(7), reason=None
    ),
    "denied_with_reason": lambda: g.deny(
        pending(),
        approver=APPROVER,
        approvers=APPROVER_IDS,
        now=at(7),
        reason="Use the build agents' NAT gateway <!channel> & not a laptop",
    ),
    "withdrawn": lambda: g.withdraw(pending(), actor=REQUESTER, now=at(3)),
    "lapsed": lambda: g.lapse(pending(), now=NOW + POLICY.pending_ttl),
    "failed": lambda: g.fail(
        approved(),
        reason="Azure refused the update: the registry's IP rules are full (200 of 200).",
        now=at(12),
    ),
    "expired_rule_being_removed": expired,
    "expired_rule_removed": lambda: g.release(expired(), rule_removed_at=at(11 + 4 * 60 + 2)),
    "expired_rule_not_the_bots": lambda: g.expire(
        g.activate(approved(), now=at(11), policy=POLICY, entry=None, covered_by="91.38.188.0/24"),
        now=at(11 + 4 * 60 + 1),
    ),
    "expired_nothing_left_to_remove": lambda: g.release(expired()),
    "revoked_by_an_approver_with_reason": lambda: revoked(reason="INC-4711 is closed"),
    "revoked_by_the_requester": lambda: revoked(by=REQUESTER),
    "revoked_by_the_bot": lambda: g.retire(
        active(), now=at(60), reason="the registry left the bot's configuration"
    ),
}
