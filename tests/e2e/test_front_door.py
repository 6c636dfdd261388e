"""The Slack front door end to end: signed requests into the HTTP function, the job through
Azurite's queue into the queue function, the card as the Slack emulator received it."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import APPROVER, CHANNEL, DEV, World

pytestmark = pytest.mark.azurite

PASTE = (
    'Error response from daemon: Head "https://contosoprod.azurecr.io/v2/shop/api/manifests/1.4": '
    "denied: client with IP '20.61.12.7' is not allowed access. Refer "
    "https://aka.ms/acr/firewall to grant access."
)


def card_text(blocks: list[dict]) -> str:
    return json.dumps(blocks)


def test_slash_command_acks_diagnosing_then_the_card_replaces_it(world: World) -> None:
    response = world.post(world.client.slash_command("/acr-why", PASTE, user=DEV, channel=CHANNEL))
    assert response.status_code == 200
    ack = json.loads(response.get_body())
    assert ack["response_type"] == "ephemeral"
    assert "Diagnosing" in ack["text"]
    assert world.slack.calls() == []  # the ack path makes no Slack call
    assert world.arm.requests == []  # nor an ARM call

    world.run_jobs()
    [posted] = world.slack.calls("response_url")
    assert posted.params["replace_original"] is True
    blocks = card_text(posted.params["blocks"])
    assert "refused this address" in blocks
    assert "20.61.12.7" in blocks
    assert "contosoprod.azurecr.io" in blocks
    # The worker read the live registry: quota and rule set.
    kinds = {r.kind for r in world.arm.requests}
    assert {"get_registry", "list_usages"} <= kinds
    assert "patch_registry" not in kinds


def test_an_empty_slash_command_opens_a_modal_and_its_submission_is_diagnosed(world: World) -> None:
    response = world.post(world.client.slash_command("/acr-why", "", user=DEV, channel=CHANNEL))
    assert response.status_code == 200
    [opened] = world.slack.calls("views.open")
    view = opened.response["view"]
    assert view["callback_id"] == "acr_why_paste"
    submission = world.client.view_submission(
        view["id"], user=DEV, values={"paste": {"paste_text": PASTE}}
    )
    response = world.post(submission)
    assert response.status_code == 200
    world.run_jobs()
    [answer] = world.slack.calls("response_url")
    assert "20.61.12.7" in card_text(answer.params["blocks"])


def test_the_message_shortcut_answers_in_the_thread(world: World) -> None:
    message = world.slack.user_message(DEV, CHANNEL, f"my pull fails:\n```{PASTE}```")
    response = world.post(
        world.client.message_shortcut(
            "diagnose_pull_error", user=APPROVER, message=message, channel=CHANNEL
        )
    )
    assert response.status_code == 200
    world.run_jobs()
    [reply] = world.slack.replies(CHANNEL, message.ts)
    assert "20.61.12.7" in card_text(reply.blocks)
    assert world.slack.calls("reactions.add")  # the sign of life while it ran
    assert world.slack.calls("reactions.remove")


def test_a_mention_is_answered_in_its_thread_and_a_dm_in_the_dm(world: World) -> None:
    world.post(
        world.client.app_mention(f"<@{world.slack.bot_user_id}> {PASTE}", user=DEV, channel=CHANNEL)
    )
    world.post(world.client.direct_message(PASTE, user=DEV))
    world.run_jobs()
    posts = world.slack.calls("chat.postMessage")
    assert len(posts) == 2
    mention, dm = sorted(posts, key=lambda c: c.params["channel"] != CHANNEL)
    assert mention.params["channel"] == CHANNEL
    assert mention.params["thread_ts"]
    assert "20.61.12.7" in card_text(mention.params["blocks"])
    assert dm.params["channel"] != CHANNEL


def test_a_mention_without_a_paste_gets_help(world: World) -> None:
    world.post(world.client.app_mention(f"<@{world.slack.bot_user_id}>", user=DEV, channel=CHANNEL))
    world.run_jobs()
    [post] = world.slack.calls("chat.postMessage")
    assert "paste it after my name" in post.params["text"]


def test_a_forged_signature_or_a_stale_timestamp_gets_401_and_nothing_is_queued(
    world: World,
) -> None:
    request = world.client.slash_command("/acr-why", PASTE, user=DEV, channel=CHANNEL)
    assert world.post(world.client.forged(request)).status_code == 401
    assert world.post(world.client.stale(request)).status_code == 401
    stats = world.run_jobs()
    assert stats.handled == 0
    assert world.slack.calls() == []


def test_an_exact_replay_has_no_second_effect(world: World) -> None:
    request = world.client.slash_command("/acr-why", PASTE, user=DEV, channel=CHANNEL)
    assert world.post(request).status_code == 200
    assert world.post(request).status_code == 200  # within Slack's five minutes: signature valid
    world.run_jobs()
    assert len(world.slack.calls("response_url")) == 1


def test_a_retried_event_is_acked_without_a_second_job(world: World) -> None:
    event = world.client.direct_message(PASTE, user=DEV)
    assert world.post(event).status_code == 200
    retry = world.client.retried(event, num=1, reason="http_timeout")
    assert world.post(retry).status_code == 200
    stats = world.run_jobs()
    assert stats.handled == 1
    assert len(world.slack.calls("chat.postMessage")) == 1


def test_a_request_from_another_workspace_is_refused(world: World) -> None:
    from sandbox.slack_client import SlackClient
    from tests.e2e.conftest import SECRET

    stranger = SlackClient(SECRET, emulator=world.slack, team_id="T0OTHER")
    response = world.post(stranger.slash_command("/acr-why", PASTE, user=DEV, channel=CHANNEL))
    assert response.status_code == 403
    assert world.run_jobs().handled == 0
    assert world.slack.calls() == []


def test_a_paste_cannot_ping_anyone_or_forge_a_link(world: World) -> None:
    hostile = "<!channel> <@U0APPROVER> <http://evil.example|click here> " + PASTE.replace(
        "shop/api", "shop/api"
    )
    world.post(world.client.direct_message(hostile, user=DEV))
    world.run_jobs()
    [post] = world.slack.calls("chat.postMessage")
    rendered = json.dumps(post.params["blocks"]) + post.params["text"]
    assert "<!channel>" not in rendered
    assert "<@U0APPROVER>" not in rendered
    assert "<http://evil" not in rendered


def test_a_throttled_slack_api_is_retried_by_the_sdk(world: World) -> None:
    world.slack.throttle("chat.postMessage", retry_after=0)
    world.post(world.client.direct_message(PASTE, user=DEV))
    world.run_jobs()
    posts = world.slack.calls("chat.postMessage")
    assert [p.status for p in posts] == [429, 200]


def test_a_job_that_keeps_failing_reaches_the_poison_queue_and_the_person_is_told(
    world: World,
) -> None:
    # Slack answers every reply of the job with a server error (three tries per attempt, the SDK
    # retrying twice), for all five attempts the host makes; then it is back.
    attempts = world.host.max_dequeue_count
    world.slack.server_error("chat.postMessage", times=3 * attempts)
    world.post(world.client.direct_message(PASTE, user=DEV))
    world.run_jobs(timeout=60)
    assert world.host.stats.failed == attempts
    assert world.host.stats.poisoned == 1
    assert world.host.poison_stats.handled == 1
    told = [c for c in world.slack.calls("chat.postMessage") if c.status == 200]
    [message] = told
    assert "could not finish diagnosing your paste" in message.params["text"]
    assert "reference" in message.params["text"]


def test_the_bot_ignores_its_own_messages_and_other_bots(world: World) -> None:
    world.post(world.client.message(PASTE, channel="D0BOTDM", channel_type="im", bot_id="B0OTHER"))
    world.post(
        world.client.message(
            PASTE,
            channel="D0BOTDM",
            channel_type="im",
            user=world.slack.bot_user_id,
            bot_id=world.slack.bot_id,
        )
    )
    assert world.run_jobs().handled == 0
    assert world.slack.calls("chat.postMessage") == []


def test_something_that_is_not_a_registry_error_gets_a_friendly_answer(world: World) -> None:
    world.post(
        world.client.slash_command("/acr-why", "my laptop is slow today", user=DEV, channel=CHANNEL)
    )
    world.run_jobs()
    [answer] = world.slack.calls("response_url")
    text = card_text(answer.params["blocks"])
    assert "could not find a registry error" in text
    assert "docker" in text  # says what it can read
    assert world.slack.calls("chat.postMessage") == []  # nobody else was asked anything
