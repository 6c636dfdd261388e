"""The approval flow end to end: paste → diagnosis card → request modal → approval card →
Approve/Deny → the rule applied by the reconcile, verified, and everyone told."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from services.domain.grants import GrantState
from tests.e2e.conftest import APPROVALS, APPROVER, APPROVER_2, DEV, World

pytestmark = pytest.mark.azurite

IP = "20.61.12.7"
PASTE = (
    'Error response from daemon: Head "https://contosoprod.azurecr.io/v2/shop/api/manifests/1.4": '
    f"denied: client with IP '{IP}' is not allowed access. Refer "
    "https://aka.ms/acr/firewall to grant access."
)
NO_IP = (
    'Failed to pull image "contosoprod.azurecr.io/shop/api:1.4": failed to resolve reference: '
    "failed to authorize: failed to fetch anonymous token: unexpected status from GET request to "
    "https://contosoprod.azurecr.io/oauth2/token?scope=repository%3Ashop%2Fapi%3Apull: "
    "403 Forbidden"
)


def text_of(message) -> str:
    return json.dumps(getattr(message, "blocks", None) or []) + str(getattr(message, "text", ""))


def diagnosed(world: World, paste: str = PASTE):
    """DEV sends the paste in a DM; returns the diagnosis card (a message in the DM)."""
    world.post(world.client.direct_message(paste, user=DEV))
    world.run_jobs()
    dm = world.slack.dm_channel(DEV)
    card = world.slack.messages(dm)[-1]
    assert "request access" in text_of(card).lower() or "Request temporary access" in text_of(card)
    return card


def request_access(world: World, card, *, justification="deploying the hotfix now", **values):
    response = world.post(world.client.block_action("request_access", user=DEV, message=card))
    assert response.status_code == 200
    view = world.slack.calls("views.open")[-1].response["view"]
    given = {"justification": {"justification_text": justification}}
    given.update(values)
    return world.post(world.client.view_submission(view["id"], user=DEV, values=given))


def pending_grant(world: World, paste: str = PASTE, **values):
    card = diagnosed(world, paste)
    response = request_access(world, card, **values)
    assert response.status_code == 200
    assert response.get_body() in (b"", b"{}") or b"errors" not in response.get_body()
    world.run_jobs()
    [grant] = list(world.runtime.ports.grants.scan())
    return grant


def approval_card(world: World):
    cards = [m for m in world.slack.messages(APPROVALS) if "Access request" in text_of(m)]
    assert len(cards) == 1
    return cards[0]


def click(world: World, user: str, action: str, message, **kwargs):
    return world.post(world.client.block_action(action, user=user, message=message, **kwargs))


def grant_state(world: World, grant_id: str) -> GrantState:
    return world.runtime.ports.grants.get(grant_id)[0].state


def requester_message(world: World):
    """The requester's one message about their request (wherever it was posted)."""
    mine = [m for m in world.slack.messages(DEV) if "Your request for" in text_of(m)]
    assert len(mine) == 1, [text_of(m) for m in mine]
    return mine[0]


def pings(world: World) -> list:
    """The replies under the requester's message (what notified them), oldest first."""
    mine = requester_message(world)
    thread = mine.thread_ts or mine.ts
    return [
        m
        for m in world.slack.replies(world.slack.dm_channel(DEV), thread)
        if m.ts != mine.ts
        and m.user != DEV
        and "Your request for" not in text_of(m)
        and m.ts > mine.ts
    ]


def assert_no_identical_updates(world: World) -> None:
    """No message was rewritten with what it already showed (posted or last updated)."""
    shown: dict[tuple[str, str], str] = {}
    for call in world.slack.calls():
        if call.method == "chat.postMessage" and call.status == 200:
            key = (str(call.response["channel"]), str(call.response["ts"]))
        elif call.method == "chat.update" and call.status == 200:
            key = (str(call.params["channel"]), str(call.params["ts"]))
        else:
            continue
        content = json.dumps([call.params.get("text"), call.params.get("blocks")], sort_keys=True)
        assert shown.get(key) != content, f"{call.method} repeated what {key} showed"
        shown[key] = content


def requester_texts(world: World) -> str:
    dm = world.slack.dm_channel(DEV)
    return " ".join(text_of(m) for m in world.slack.messages(dm)) + " ".join(
        text_of(r) for m in world.slack.messages(dm) for r in world.slack.replies(dm, m.ts)
    )


def test_the_whole_happy_path_from_paste_to_active_rule(world: World) -> None:
    grant = pending_grant(world)
    assert grant.state is GrantState.PENDING
    assert str(grant.ip) == IP
    card = approval_card(world)
    assert f"<@{APPROVER}>" in text_of(card)  # the approvers are mentioned
    assert "deploying the hotfix now" in text_of(card)
    asked = requester_message(world)
    assert "Waiting for an approver" in text_of(asked)
    assert "grant_withdraw" in text_of(asked)
    assert pings(world) == []

    assert click(world, APPROVER, "grant_approve", card).status_code == 200
    world.run_jobs()
    assert grant_state(world, grant.id) is GrantState.ACTIVE
    assert IP in world.arm.rules("contosoprod")
    card = approval_card(world)
    # The card keeps who decided and for how long, and offers only Revoke now.
    assert f"Approved by <@{APPROVER}> for 4 h" in text_of(card)
    assert "allowed until <!date^" in text_of(card)
    assert "grant_approve" not in text_of(card)
    assert "grant_revoke" in text_of(card)
    # The requester's one message, updated in place: active, with the buttons that fit now.
    now = requester_message(world)
    assert now.ts == asked.ts
    assert "allowed until" in text_of(now)
    assert "takes a few minutes" in text_of(now)
    assert "grant_withdraw" not in text_of(now)
    assert "grant_extend_ask" in text_of(now)
    # One reply under it says the access is live (that is what notifies them).
    [live] = pings(world)
    assert "is allowed on" in live.text
    assert "Pull again" in live.text
    assert_no_identical_updates(world)
    # ARM calls of the approval: quota, GET, PATCH, two polls, read back.
    kinds = [r.kind for r in world.arm.requests if r.kind != "other"]
    assert kinds.count("patch_registry") == 1


def test_deny_with_a_reason_tells_the_requester(world: World) -> None:
    grant = pending_grant(world)
    card = approval_card(world)
    click(world, APPROVER, "grant_deny", card)
    view = world.slack.calls("views.open")[-1].response["view"]
    world.post(
        world.client.view_submission(
            view["id"], user=APPROVER, values={"reason": {"reason_text": "use the NAT gateway"}}
        )
    )
    world.run_jobs()
    assert grant_state(world, grant.id) is GrantState.DENIED
    assert "use the NAT gateway" in requester_texts(world)
    assert "Denied by" in text_of(approval_card(world))
    assert IP not in world.arm.rules("contosoprod")


def test_a_non_approver_gets_an_ephemeral_refusal(world: World) -> None:
    world.slack.add_user("U0STRANGER", "stranger")
    grant = pending_grant(world)
    click(world, "U0STRANGER", "grant_approve", approval_card(world))
    world.run_jobs()
    assert grant_state(world, grant.id) is GrantState.PENDING
    notes = [c for c in world.slack.calls("response_url") if "Only the approvers" in str(c.params)]
    assert len(notes) == 1
    assert notes[0].params["response_type"] == "ephemeral"


def test_the_requester_cannot_approve_their_own_request(world: World) -> None:
    card = diagnosed(world)
    # APPROVER asks (through the same card) and then tries to approve it.
    world.post(world.client.block_action("request_access", user=APPROVER, message=card))
    view = world.slack.calls("views.open")[-1].response["view"]
    world.post(
        world.client.view_submission(
            view["id"],
            user=APPROVER,
            values={"justification": {"justification_text": "my own deploy"}},
        )
    )
    world.run_jobs()
    [grant] = list(world.runtime.ports.grants.scan())
    click(world, APPROVER, "grant_approve", approval_card(world))
    world.run_jobs()
    assert grant_state(world, grant.id) is GrantState.PENDING
    assert any("your own request" in str(c.params) for c in world.slack.calls("response_url"))


def test_two_approvers_clicking_at_once_make_one_decision_and_one_rule(world: World) -> None:
    grant = pending_grant(world)
    card = approval_card(world)
    click(world, APPROVER, "grant_approve", card)
    click(world, APPROVER_2, "grant_approve", card)
    world.run_jobs(workers=2)
    assert grant_state(world, grant.id) is GrantState.ACTIVE
    assert world.arm.rules("contosoprod").count(IP) == 1
    assert any("already approved" in str(c.params) for c in world.slack.calls("response_url"))


def test_a_tampered_action_value_naming_another_grant_is_refused(world: World) -> None:
    first = pending_grant(world)
    # A second request by someone else, on another address.
    other_paste = PASTE.replace(IP, "20.61.12.8")
    card = diagnosed(world, other_paste)
    request_access(world, card)
    world.run_jobs()
    second = next(g for g in world.runtime.ports.grants.scan() if g.id != first.id)
    first_card = next(m for m in world.slack.messages(APPROVALS) if first.id in text_of(m))
    click(world, APPROVER, "grant_approve", first_card, value=second.id)
    world.run_jobs()
    assert grant_state(world, second.id) is GrantState.PENDING
    assert grant_state(world, first.id) is GrantState.PENDING
    assert any("does not belong" in str(c.params) for c in world.slack.calls("response_url"))


def test_a_duplicate_request_points_to_the_existing_one(world: World) -> None:
    grant = pending_grant(world)
    card = diagnosed(world)
    request_access(world, card)
    world.run_jobs()
    assert [g.id for g in world.runtime.ports.grants.scan()] == [grant.id]
    assert any(
        "already an open request" in str(c.params) for c in world.slack.calls("response_url")
    )


def test_quota_full_fails_the_grant_and_leaves_no_rule(world: World) -> None:
    grant = pending_grant(world)
    world.arm.set_ip_rule_limit("contosoprod", 5)  # 1 used + 5 kept free: no room
    click(world, APPROVER, "grant_approve", approval_card(world))
    world.run_jobs()
    assert grant_state(world, grant.id) is GrantState.FAILED
    assert IP not in world.arm.rules("contosoprod")
    assert "could not be applied" in requester_texts(world)
    assert "Could not be applied" in text_of(approval_card(world))


def test_public_access_disabled_since_fails_the_grant(world: World) -> None:
    grant = pending_grant(world)
    body = world.arm.registry_json("contosoprod")
    world.arm.add_registry(
        body["id"].split("/")[2],
        body["id"].split("/")[4],
        "contosoprod",
        rules=world.arm.rules("contosoprod"),
        public_network_access="Disabled",
    )
    click(world, APPROVER, "grant_approve", approval_card(world))
    world.run_jobs()
    assert grant_state(world, grant.id) is GrantState.FAILED
    assert "public network access disabled" in requester_texts(world)


def test_an_arm_500_storm_ends_in_failed_with_no_rule(world: World) -> None:
    grant = pending_grant(world)
    world.arm.inject(status=500, times=100_000)
    click(world, APPROVER, "grant_approve", approval_card(world))
    world.run_jobs(until=lambda: grant_state(world, grant.id) is GrantState.APPROVED, timeout=30)
    # Azure keeps failing past the activation deadline: the reconcile stops retrying.
    world.runtime.clock.advance(timedelta(minutes=11))  # type: ignore[attr-defined]
    world.run_jobs(until=lambda: grant_state(world, grant.id) is GrantState.FAILED, timeout=60)
    assert grant_state(world, grant.id) is GrantState.FAILED
    world.arm.clear_faults()
    world.run_jobs()  # the notices, and the reconcile settling the failed grant
    assert IP not in world.arm.rules("contosoprod")
    assert "could not be applied" in requester_texts(world)


def test_a_crash_between_the_patch_and_activation_converges_on_redelivery(world: World) -> None:
    grant = pending_grant(world)
    click(world, APPROVER, "grant_approve", approval_card(world))
    # The PATCH lands and ARM answers it asynchronously; every poll after it is dropped until the
    # client gives up.
    world.arm.patch_status = 201
    world.arm.inject("operation_status", drop=True, times=12)
    world.run_jobs(until=lambda: grant_state(world, grant.id) is GrantState.ACTIVE, timeout=60)
    assert grant_state(world, grant.id) is GrantState.ACTIVE
    assert world.arm.rules("contosoprod").count(IP) == 1
    stored = world.runtime.ports.grants.get(grant.id)[0]
    assert not stored.rule_preexisted


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("10.1.2.3", "private"),
        ("2603:1030::5", "IPv4 only"),
        ("20.61.12.0/24", "single addresses"),
        ("not an ip", "not an IPv4 address"),
    ],
)
def test_a_typed_ip_is_checked_before_anything_is_stored(world: World, typed, reason) -> None:
    card = diagnosed(world, NO_IP)
    assert "Enter the address" in text_of(card)
    response = request_access(world, card, ip={"ip_text": typed})
    answer = json.loads(response.get_body())
    assert answer["response_action"] == "errors"
    assert reason in answer["errors"]["ip"]
    world.run_jobs()
    assert list(world.runtime.ports.grants.scan()) == []


def test_a_typed_public_ip_makes_a_request(world: World) -> None:
    card = diagnosed(world, NO_IP)
    request_access(world, card, ip={"ip_text": "20.61.12.9"})
    world.run_jobs()
    [grant] = list(world.runtime.ports.grants.scan())
    assert str(grant.ip) == "20.61.12.9"


def test_two_approver_policy_applies_the_rule_at_the_second_approval(two_approvers: World) -> None:
    world = two_approvers
    grant = pending_grant(world)
    click(world, APPROVER, "grant_approve", approval_card(world))
    world.run_jobs()
    assert grant_state(world, grant.id) is GrantState.PENDING
    assert "second approval" in text_of(approval_card(world))
    assert IP not in world.arm.rules("contosoprod")
    click(world, APPROVER_2, "grant_approve", approval_card(world))
    world.run_jobs()
    assert grant_state(world, grant.id) is GrantState.ACTIVE
    assert IP in world.arm.rules("contosoprod")


def test_a_user_group_that_cannot_be_read_means_nobody_from_it_approves(group_world: World) -> None:
    world = group_world
    world.slack.add_user("U0GROUPIE", "groupie")
    grant = pending_grant(world)
    click(world, "U0GROUPIE", "grant_approve", approval_card(world))
    world.run_jobs()
    assert grant_state(world, grant.id) is GrantState.PENDING
    assert any("could not be read" in str(c.params) for c in world.slack.calls("response_url"))


def test_the_requester_can_withdraw_from_their_message(world: World) -> None:
    grant = pending_grant(world)
    dm = world.slack.dm_channel(DEV)
    mine = next(
        r
        for m in world.slack.messages(dm)
        for r in [m, *world.slack.replies(dm, m.ts)]
        if "Withdraw request" in text_of(r)
    )
    click(world, DEV, "grant_withdraw", mine)
    world.run_jobs()
    assert grant_state(world, grant.id) is GrantState.WITHDRAWN
    assert "Withdrawn by the requester" in text_of(approval_card(world))


def test_an_approver_shortens_the_duration_on_the_card(world: World) -> None:
    grant = pending_grant(world)  # asks for the default 4 h
    card = approval_card(world)
    click(
        world,
        APPROVER,
        "grant_approve",
        card,
        selected={"approval_duration": {"approval_duration_choice": "3600"}},
    )
    world.run_jobs()
    stored = world.runtime.ports.grants.get(grant.id)[0]
    assert stored.state is GrantState.ACTIVE
    assert stored.approved_duration == timedelta(hours=1)
    assert stored.expires_at - stored.activated_at == timedelta(hours=1)


def test_an_absurd_duration_on_the_card_is_refused_not_poisoned(world: World) -> None:
    # A duration of 10^20 seconds raised OverflowError in the worker; the job ended in the poison
    # queue. Now it is a duration like any other that is not a choice: refused, nothing changed.
    grant = pending_grant(world)
    card = approval_card(world)
    click(
        world,
        APPROVER,
        "grant_approve",
        card,
        selected={"approval_duration": {"approval_duration_choice": "1" + "0" * 20}},
    )
    world.run_jobs()
    assert world.host.poison_stats.handled == 0
    assert world.host.stats.failed == 0
    assert world.runtime.ports.grants.get(grant.id)[0].state is GrantState.PENDING
    [note] = world.slack.ephemerals(APPROVER)
    assert "not an allowed duration" in note.text


def test_a_refusal_that_could_not_be_told_is_told_on_the_next_delivery(world: World) -> None:
    # The click was claimed before its refusal went out; when Slack failed the note, the
    # redelivery found the claim and skipped: the stranger never learned why nothing happened.
    world.slack.add_user("U0STRANGER", "stranger")
    grant = pending_grant(world)
    world.slack.inject("response_url", status=500, times=3)  # beyond the webhook's own retries
    click(world, "U0STRANGER", "grant_approve", approval_card(world))
    world.run_jobs()
    assert world.host.stats.failed >= 1  # the first delivery failed, and came back
    assert grant_state(world, grant.id) is GrantState.PENDING
    notes = [c for c in world.slack.calls("response_url") if "Only the approvers" in str(c.params)]
    delivered = [c for c in notes if c.status == 200]
    assert len(delivered) == 1
