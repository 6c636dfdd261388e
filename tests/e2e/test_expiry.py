"""Expiry, reminders, extension and revocation, and the App Home, end to end through
`function_app`'s functions (the timer included) with the clock moved by the test."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from services.domain.grants import GrantState
from tests.e2e.conftest import APPROVALS, APPROVER, APPROVER_2, DEV, World
from tests.e2e.test_approvals import (
    IP,
    approval_card,
    assert_no_identical_updates,
    click,
    grant_state,
    pending_grant,
    pings,
    requester_message,
    requester_texts,
    text_of,
)

pytestmark = pytest.mark.azurite


def active_grant(world: World, **values):
    grant = pending_grant(world, **values)
    click(world, APPROVER, "grant_approve", approval_card(world))
    world.run_jobs()
    assert grant_state(world, grant.id) is GrantState.ACTIVE
    return world.runtime.ports.grants.get(grant.id)[0]


def later(world: World, delta: timedelta) -> None:
    world.runtime.clock.advance(delta)  # type: ignore[attr-defined]


def revoke(world: World, user: str, message, reason: str = ""):
    """Revoke now: the click opens the form, whose reason is the confirmation."""
    click(world, user, "grant_revoke", message)
    view = world.slack.calls("views.open")[-1].response["view"]
    assert view["callback_id"] == "revoke_reason_submit"
    return world.post(
        world.client.view_submission(
            view["id"], user=user, values={"reason": {"reason_text": reason}}
        )
    )


def requester_messages_with(world: World, words: str) -> list:
    dm = world.slack.dm_channel(DEV)
    found = {}
    for message in world.slack.messages(dm):
        for candidate in [message, *world.slack.replies(dm, message.ts)]:
            if words in text_of(candidate):
                found[candidate.ts] = candidate
    return list(found.values())


def requester_message_with(world: World, words: str):
    dm = world.slack.dm_channel(DEV)
    for message in world.slack.messages(dm):
        for candidate in [message, *world.slack.replies(dm, message.ts)]:
            if words in text_of(candidate):
                return candidate
    raise AssertionError(f"no message with {words!r}")


def test_the_timer_expires_the_grant_removes_the_rule_and_tells_everyone(world: World) -> None:
    grant = active_grant(world)
    mine = requester_message(world)
    assert IP in world.arm.rules("contosoprod")
    later(world, timedelta(hours=5))
    world.host.timer()
    world.run_jobs()
    ended = world.runtime.ports.grants.get(grant.id)[0]
    assert ended.state is GrantState.EXPIRED
    assert ended.ended_at == grant.expires_at  # it ended at its deadline, not at the sweep
    assert IP not in world.arm.rules("contosoprod")
    assert "4.175.12.34" in world.arm.rules("contosoprod")  # the foreign rule stays
    card = text_of(approval_card(world))
    assert "Expired <!date^" in card
    assert "at its deadline" in card
    assert "Rule removed" in card
    assert f"Approved by <@{APPROVER}> <!date^" in card  # who decided stays on the card
    assert "grant_revoke" not in card
    # The same one message says so, with "Request again" and no stale buttons; the expiry
    # itself pings nobody (the reminder did).
    now = requester_message(world)
    assert now.ts == mine.ts
    assert "Expired" in text_of(now)
    assert "Rule removed" in text_of(now)
    assert "grant_request_again" in text_of(now)
    assert "grant_revoke" not in text_of(now)
    assert "grant_extend_ask" not in text_of(now)
    [live] = pings(world)  # only "allowed": the expiry pings nobody
    assert "is allowed on" in live.text
    assert_no_identical_updates(world)


def test_a_reminder_is_sent_once_and_an_extension_is_an_approvers_decision(world: World) -> None:
    grant = active_grant(world)  # 4 h, the policy default
    later(world, timedelta(hours=3, minutes=35))
    world.host.timer()
    world.run_jobs()
    world.host.timer()
    world.run_jobs()
    assert len(requester_messages_with(world, "Need longer?")) == 1
    click(world, DEV, "grant_extend_ask", requester_message(world))
    view = world.slack.calls("views.open")[-1].response["view"]
    world.post(
        world.client.view_submission(
            view["id"], user=DEV, values={"duration": {"duration_choice": "3600"}}
        )
    )
    world.run_jobs()
    card = approval_card(world)
    assert "asks for 1 h more" in text_of(card)
    # The approvers hear of it: a reply under the card that mentions them (an edit would not).
    [asked] = [
        r for r in world.slack.replies("C0APPROVALS", card.ts) if "asks for 1 h more" in r.text
    ]
    assert f"<@{APPROVER}>" in asked.text
    assert f"<@{APPROVER_2}>" in asked.text
    assert "grant_extend_ask" not in text_of(requester_message(world))  # asked already
    click(world, APPROVER_2, "grant_extend_approve", card)
    world.run_jobs()
    extended = world.runtime.ports.grants.get(grant.id)[0]
    assert extended.expires_at == grant.expires_at + timedelta(hours=1)
    assert f"<@{APPROVER_2}> extended it" in requester_texts(world)
    assert f"Extended by 1 h by <@{APPROVER_2}>" in text_of(approval_card(world))
    assert_no_identical_updates(world)


def test_an_extension_after_the_expiry_passed_is_refused(world: World) -> None:
    grant = active_grant(world)
    message = requester_message_with(world, "Ask for more time")
    later(world, timedelta(hours=4, minutes=1))  # expired, the sweep has not run yet
    click(world, DEV, "grant_extend_ask", message)
    view = world.slack.calls("views.open")[-1].response["view"]
    world.post(
        world.client.view_submission(
            view["id"], user=DEV, values={"duration": {"duration_choice": "3600"}}
        )
    )
    world.run_jobs()
    assert world.runtime.ports.grants.get(grant.id)[0].extension_requested is None
    notes = world.slack.calls("chat.postMessage") + world.slack.calls("response_url")
    assert any("has expired" in str(c.params) for c in notes)


def test_revoke_by_the_requester_and_by_an_approver_but_not_a_stranger(world: World) -> None:
    world.slack.add_user("U0STRANGER", "stranger")
    grant = active_grant(world)
    revoke(world, "U0STRANGER", approval_card(world), "not mine to keep")
    world.run_jobs()
    assert grant_state(world, grant.id) is GrantState.ACTIVE
    revoke(world, DEV, requester_message(world))
    world.run_jobs()
    assert grant_state(world, grant.id) is GrantState.REVOKED
    assert IP not in world.arm.rules("contosoprod")
    assert "Revoked by" in text_of(approval_card(world))
    # No "Request again" after a deliberate end; no ping for the requester's own revoke.
    assert "grant_request_again" not in text_of(requester_message(world))
    assert not [p for p in pings(world) if "revoked" in p.text]


def test_an_approver_revokes_from_the_card_with_a_reason(world: World) -> None:
    grant = active_grant(world)
    revoke(world, APPROVER_2, approval_card(world), "INC-4711 is closed")
    world.run_jobs()
    assert grant_state(world, grant.id) is GrantState.REVOKED
    assert IP not in world.arm.rules("contosoprod")
    told = requester_texts(world)
    assert f"<@{APPROVER_2}> revoked it: INC-4711 is closed" in told
    assert "INC-4711 is closed" in text_of(approval_card(world))


def test_a_policy_that_requires_a_reason_refuses_a_revoke_without_one(
    azurite_connection_string, unique_name, monkeypatch
) -> None:
    from tests.e2e.conftest import make_world

    extra = {"ACRBOT_POLICY__REVOKE_REASON_REQUIRED": "true"}
    with make_world(azurite_connection_string, unique_name, monkeypatch, extra) as world:
        grant = active_grant(world)
        response = revoke(world, APPROVER_2, approval_card(world), "   ")
        # The form says so at once, and nothing is asked of the worker.
        assert json.loads(response.get_body())["errors"]["reason"].startswith("Please say why")
        world.run_jobs()
        assert grant_state(world, grant.id) is GrantState.ACTIVE
        modal = world.slack.calls("views.open")[-1].params["view"]
        modal = json.loads(modal) if isinstance(modal, str) else modal
        assert modal["blocks"][-1].get("optional") is False


def test_a_rule_removed_by_hand_is_flagged_to_the_approvers_once(world: World) -> None:
    grant = active_grant(world)
    world.arm.set_rules("contosoprod", ["4.175.12.34"])
    for _ in range(2):
        world.host.timer()
        world.run_jobs()
    flags = [
        r
        for m in world.slack.messages("C0APPROVALS")
        for r in world.slack.replies("C0APPROVALS", m.ts)
        if "removed by hand" in text_of(r)
    ]
    assert len(flags) == 1
    assert world.runtime.ports.grants.get(grant.id)[0].rule_vanished_at is not None


def home_of(world: World, user: str) -> str:
    world.post(world.client.app_home_opened(user=user))
    world.run_jobs()
    return json.dumps(world.slack.home(user))


def test_the_app_home_for_a_requester_an_approver_and_someone_with_nothing_open(
    world: World,
) -> None:
    world.slack.add_user("U0NOBODY", "nobody")
    grant = pending_grant(world)
    mine = home_of(world, DEV)
    assert "Your requests" in mine
    assert IP in mine
    assert "Withdraw" in mine
    theirs = home_of(world, APPROVER)
    assert "Waiting for your decision" in theirs
    assert IP in theirs
    assert "of 200 IP rules used" in theirs
    nothing = home_of(world, "U0NOBODY")
    assert "nothing open" in nothing
    assert "Waiting for your decision" not in nothing
    # Approve… on the Home shows the request whole before anything is decided.
    world.post(
        world.client.block_action(
            "grant_review_approve", user=APPROVER, view=world.slack.home(APPROVER)
        )
    )
    modal = world.slack.calls("views.open")[-1].response["view"]
    shown = json.dumps(modal["blocks"])
    assert modal["callback_id"] == "approve_review_submit"
    assert "deploying the hotfix now" in shown
    assert f"<@{DEV}> asks to allow" in shown
    assert grant_state(world, grant.id) is GrantState.PENDING  # opening it decided nothing
    world.post(
        world.client.view_submission(
            modal["id"], user=APPROVER, values={"duration": {"duration_choice": "3600"}}
        )
    )
    world.run_jobs()
    active = world.runtime.ports.grants.get(grant.id)[0]
    assert active.state is GrantState.ACTIVE
    assert active.approved_duration == timedelta(hours=1)
    # Everyone concerned sees it on their Home without opening it again.
    assert "Active on your registries" in json.dumps(world.slack.home(APPROVER))
    assert "Active on your registries" in json.dumps(world.slack.home(APPROVER_2))
    assert "min left" in json.dumps(world.slack.home(DEV))


def test_deny_from_the_home_shows_the_request_and_takes_a_reason(world: World) -> None:
    grant = pending_grant(world)
    home_of(world, APPROVER)
    world.post(
        world.client.block_action(
            "grant_review_deny", user=APPROVER, view=world.slack.home(APPROVER)
        )
    )
    modal = world.slack.calls("views.open")[-1].response["view"]
    assert modal["callback_id"] == "deny_reason_submit"
    assert "deploying the hotfix now" in json.dumps(modal["blocks"])
    world.post(
        world.client.view_submission(
            modal["id"], user=APPROVER, values={"reason": {"reason_text": "use the gateway"}}
        )
    )
    world.run_jobs()
    assert grant_state(world, grant.id) is GrantState.DENIED
    assert "use the gateway" in text_of(requester_message(world))


def test_request_again_after_expiry_asks_anew_from_the_old_request(world: World) -> None:
    grant = active_grant(world)
    later(world, timedelta(hours=5))
    world.host.timer()
    world.run_jobs()
    assert grant_state(world, grant.id) is GrantState.EXPIRED
    old = requester_message(world)
    click(world, DEV, "grant_request_again", old)
    modal = world.slack.calls("views.open")[-1].response["view"]
    assert modal["callback_id"] == "request_access_submit"
    form = json.dumps(modal["blocks"])
    assert "Ask again to allow" in form
    assert "deploying the hotfix now" in form  # the old justification, to start from
    world.post(world.client.view_submission(modal["id"], user=DEV))
    world.run_jobs()
    again = [g for g in world.runtime.ports.grants.scan() if g.id != grant.id]
    assert [(str(g.ip), g.state, g.registry) for g in again] == [
        (IP, GrantState.PENDING, grant.registry)
    ]
    assert again[0].justification == "deploying the hotfix now"
    assert len([m for m in world.slack.messages(APPROVALS) if "Access request" in m.text]) == 2


def test_request_again_is_the_requesters_alone(world: World) -> None:
    from services.domain.errors import NotRequester
    from services.domain.grants import Requester
    from services.flows.requests import request_again

    grant = pending_grant(world)
    click(world, APPROVER, "grant_deny", approval_card(world))
    modal = world.slack.calls("views.open")[-1].response["view"]
    world.post(world.client.view_submission(modal["id"], user=APPROVER))
    world.run_jobs()
    assert grant_state(world, grant.id) is GrantState.DENIED
    assert "grant_request_again" in text_of(requester_message(world))
    with pytest.raises(NotRequester):
        request_again(
            world.runtime.ports,
            grant.id,
            requester=Requester(user_id=APPROVER, team_id=grant.requester.team_id),
            justification="someone else's request, again",
        )


def test_the_sweep_forgets_old_delivery_claims(world: World) -> None:
    ledger = world.runtime.ports.ledger
    assert ledger.claim("event:Ev0OLD")
    later(world, timedelta(days=4))
    world.host.timer()
    assert ledger.claim("event:Ev0OLD")  # forgotten, so claimable again
    assert not ledger.claim("event:Ev0OLD")


def test_a_reconcile_of_a_registry_no_longer_managed_is_dropped_not_retried(world: World) -> None:
    from services.domain.jobs import ReconcileJob

    world.runtime.ports.jobs.send(ReconcileJob(registry="gone.azurecr.io"))
    stats = world.run_jobs()
    assert stats.failed == 0
    assert world.host.stats.poisoned == 0


def test_the_longest_justification_still_gets_request_again_and_the_home_review(
    world: World,
) -> None:
    """Buttons carry the request's text to show; one too long for a button is shortened, never
    a notice or a Home that fails."""
    longest = "é" * world.settings.policy.justification_max_length
    grant = pending_grant(world, justification=longest)
    review = home_of(world, APPROVER)
    assert "grant_review_approve" in review
    click(world, APPROVER, "grant_deny", approval_card(world))
    modal = world.slack.calls("views.open")[-1].response["view"]
    world.post(world.client.view_submission(modal["id"], user=APPROVER))
    world.run_jobs()
    assert grant_state(world, grant.id) is GrantState.DENIED
    click(world, DEV, "grant_request_again", requester_message(world))
    form = world.slack.calls("views.open")[-1].response["view"]
    assert form["callback_id"] == "request_access_submit"
    assert "éééé" in json.dumps(form["blocks"], ensure_ascii=False)


def _homes_published(world: World, user: str) -> int:
    return sum(1 for c in world.slack.calls("views.publish") if c.params.get("user_id") == user)


def test_a_decision_from_the_home_publishes_it_once_and_a_refused_click_republishes_it(
    world: World,
) -> None:
    grant = pending_grant(world)
    home_of(world, DEV)
    stale = world.slack.home(DEV)
    published = _homes_published(world, DEV)

    # Withdraw on the Home: it takes effect, and the notice publishes the Home, once.
    world.post(world.client.block_action("grant_withdraw", user=DEV, view=stale, value=grant.id))
    world.run_jobs()
    assert grant_state(world, grant.id) is GrantState.WITHDRAWN
    assert _homes_published(world, DEV) == published + 1

    # The same click on the Home as it was: refused, and the Home shown again as it is now.
    world.post(world.client.block_action("grant_withdraw", user=DEV, view=stale, value=grant.id))
    world.run_jobs()
    assert _homes_published(world, DEV) == published + 2
    assert "nothing open" in json.dumps(world.slack.home(DEV))
