"""The loopback Slack Web API answers the real slack_sdk clients in Slack's own shapes and keeps
state across calls."""

from __future__ import annotations

import json
import random
import socket
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.webhook import WebhookClient

from sandbox.slack_emulator import SlackEmulator
from services.clock import FrozenClock

ALICE = "U1ALICE"
BOB = "U2BOB"
HELP = "C1HELP"
APPROVERS = "S1APPROVERS"

SECTION: dict[str, Any] = {
    "type": "section",
    "text": {"type": "mrkdwn", "text": "*The firewall refused* `1.2.3.4`"},
    "fields": [
        {"type": "mrkdwn", "text": "*Registry*\ncontosoprod"},
        {"type": "mrkdwn", "text": "*IP*\n1.2.3.4"},
    ],
}
BUTTONS: dict[str, Any] = {
    "type": "actions",
    "elements": [
        {
            "type": "button",
            "action_id": "request_access",
            "text": {"type": "plain_text", "text": "Request temporary access"},
            "value": "grant-1",
        }
    ],
}
MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "diagnose",
    "title": {"type": "plain_text", "text": "Diagnose a pull error"},
    "submit": {"type": "plain_text", "text": "Diagnose"},
    "blocks": [
        {
            "type": "input",
            "block_id": "paste",
            "label": {"type": "plain_text", "text": "Paste the error"},
            "element": {"type": "plain_text_input", "action_id": "text", "multiline": True},
        }
    ],
}
HOME: dict[str, Any] = {
    "type": "home",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "No open grants."}}],
}


def seed(emu: SlackEmulator) -> SlackEmulator:
    """Alice and Bob in #platform-help with the bot; Bob the one approver."""
    emu.add_user(ALICE, "alice", email="alice@example.com")
    emu.add_user(BOB, "bob")
    emu.add_channel(HELP, "platform-help", members=[ALICE, BOB, emu.bot_user_id])
    emu.add_usergroup(APPROVERS, "acr-approvers", [BOB])
    return emu


@pytest.fixture
def emulator(clock: FrozenClock) -> Iterator[SlackEmulator]:
    with SlackEmulator(clock=clock) as emu:
        yield seed(emu)


@pytest.fixture
def client(emulator: SlackEmulator) -> WebClient:
    return WebClient(token=emulator.bot_token, base_url=emulator.api_url)


def error_of(excinfo: pytest.ExceptionInfo[SlackApiError]) -> str:
    return str(excinfo.value.response["error"])


# -- authentication and identity ------------------------------------------------------------


def test_auth_test_answers_with_the_bot_identity(
    emulator: SlackEmulator, client: WebClient
) -> None:
    resp = client.auth_test()

    assert resp.data == {
        "ok": True,
        "url": "https://emulated.slack.com/",
        "team": emulator.team_name,
        "user": emulator.bot_name,
        "team_id": emulator.team_id,
        "user_id": emulator.bot_user_id,
        "bot_id": emulator.bot_id,
        "is_enterprise_install": False,
    }
    call = emulator.calls("auth.test")[0]
    assert call.headers["Authorization"] == f"Bearer {emulator.bot_token}"
    assert call.status == 200


def test_a_wrong_token_is_invalid_auth_and_no_token_is_not_authed(
    emulator: SlackEmulator,
) -> None:
    with pytest.raises(SlackApiError) as wrong:
        WebClient(token="xoxb-not-the-bot", base_url=emulator.api_url).chat_postMessage(
            channel=HELP, text="hi"
        )
    with pytest.raises(SlackApiError) as missing:
        WebClient(base_url=emulator.api_url).chat_postMessage(channel=HELP, text="hi")

    assert error_of(wrong) == "invalid_auth"
    assert error_of(missing) == "not_authed"
    assert emulator.messages(HELP) == []


def test_an_unknown_method_is_unknown_method(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        client.api_call("chat.sing")

    assert error_of(err) == "unknown_method"


def test_a_method_outside_the_configured_scopes_is_missing_scope() -> None:
    with SlackEmulator(scopes=["chat:write"]) as emu:
        web = WebClient(token=emu.bot_token, base_url=emu.api_url)
        posted = web.chat_postMessage(channel=HELP, text="hi")
        with pytest.raises(SlackApiError) as err:
            web.reactions_add(channel=HELP, timestamp=posted["ts"], name="eyes")

    assert err.value.response.data == {
        "ok": False,
        "error": "missing_scope",
        "needed": "reactions:write",
        "provided": "chat:write",
    }
    assert err.value.response.headers["X-OAuth-Scopes"] == "chat:write"


# -- messages ----------------------------------------------------------------------------------


def test_post_message_answers_in_slacks_shape(emulator: SlackEmulator, client: WebClient) -> None:
    resp = client.chat_postMessage(channel=HELP, text="fallback", blocks=[SECTION, BUTTONS])

    assert resp["ok"] is True
    assert resp["channel"] == HELP
    message = resp["message"]
    assert message["ts"] == resp["ts"]
    assert message["type"] == "message"
    assert message["text"] == "fallback"
    assert message["user"] == emulator.bot_user_id
    assert message["bot_id"] == emulator.bot_id
    assert message["app_id"] == emulator.app_id
    assert message["bot_profile"]["name"] == emulator.bot_name
    # Slack gives blocks without a block_id one, and payloads then carry it.
    assert all(block["block_id"] for block in message["blocks"])
    assert message["blocks"][1]["elements"][0]["action_id"] == "request_access"
    seconds, micros = resp["ts"].split(".")
    assert seconds.isdigit()
    assert len(micros) == 6


def test_post_update_and_read_back(emulator: SlackEmulator, client: WebClient) -> None:
    posted = client.chat_postMessage(channel=HELP, text="Diagnosing…")

    updated = client.chat_update(
        channel=HELP, ts=posted["ts"], text="Diagnosed", blocks=[SECTION, BUTTONS]
    )

    assert updated["ts"] == posted["ts"]
    assert updated["text"] == "Diagnosed"
    assert updated["message"]["edited"]["user"] == emulator.bot_user_id
    [held] = emulator.messages(HELP)
    assert held.ts == posted["ts"]
    assert held.text == "Diagnosed"
    assert [b["type"] for b in held.blocks] == ["section", "actions"]
    assert held.edited_ts is not None

    # chat.update keeps the blocks it is not given, as Slack does.
    client.chat_update(channel=HELP, ts=posted["ts"], text="Diagnosed again")
    assert len(emulator.message(HELP, posted["ts"]).blocks) == 2


def test_only_the_bots_own_messages_can_be_updated(
    emulator: SlackEmulator, client: WebClient
) -> None:
    theirs = emulator.user_message(ALICE, HELP, "a paste")

    with pytest.raises(SlackApiError) as foreign:
        client.chat_update(channel=HELP, ts=theirs.ts, text="edited")
    with pytest.raises(SlackApiError) as missing:
        client.chat_update(channel=HELP, ts="1.000001", text="edited")

    assert error_of(foreign) == "cant_update_message"
    assert error_of(missing) == "message_not_found"


def test_thread_replies_keep_their_parent(emulator: SlackEmulator, client: WebClient) -> None:
    paste = emulator.user_message(ALICE, HELP, "<@U0BOT> denied: client with IP '1.2.3.4'")

    first = client.chat_postMessage(channel=HELP, text="on it", thread_ts=paste.ts)
    # A reply to a reply is threaded under the same parent, as in Slack.
    second = client.chat_postMessage(channel=HELP, text="done", thread_ts=first["ts"])

    assert first["message"]["thread_ts"] == paste.ts
    assert first["message"]["parent_user_id"] == ALICE
    assert second["message"]["thread_ts"] == paste.ts
    assert [m.text for m in emulator.replies(HELP, paste.ts)] == ["on it", "done"]
    link = client.chat_getPermalink(channel=HELP, message_ts=second["ts"])
    assert link["permalink"] == (
        f"https://emulated.slack.com/archives/{HELP}/p{second['ts'].replace('.', '')}"
        f"?thread_ts={paste.ts}&cid={HELP}"
    )


def test_history_and_replies_page_and_show_metadata_only_when_asked(
    emulator: SlackEmulator, client: WebClient
) -> None:
    # How the bot finds a post it made before a crash: its metadata, in the channel or thread.
    meta = {"event_type": "acrbot_post", "event_payload": {"key": "k1"}}
    top = client.chat_postMessage(channel=HELP, text="first", metadata=meta)
    client.chat_postMessage(channel=HELP, text="second")
    client.chat_postMessage(channel=HELP, text="in thread", thread_ts=top["ts"])

    page = client.conversations_history(channel=HELP, limit=1)
    rest = client.conversations_history(
        channel=HELP, limit=1, cursor=page["response_metadata"]["next_cursor"]
    )
    shown = client.conversations_history(channel=HELP, include_all_metadata=True)
    thread = client.conversations_replies(channel=HELP, ts=top["ts"])

    assert [m["text"] for m in page["messages"]] == ["second"]  # newest first, top level only
    assert page["has_more"] is True
    assert [m["text"] for m in rest["messages"]] == ["first"]
    assert (rest["has_more"], rest["response_metadata"]["next_cursor"]) == (False, "")
    assert "metadata" not in rest["messages"][0]
    assert shown["messages"][-1]["metadata"] == meta
    assert [m["text"] for m in thread["messages"]] == ["first", "in thread"]


def test_history_needs_the_scope_of_the_conversations_kind() -> None:
    with SlackEmulator(scopes=["chat:write", "channels:history"]) as emu:
        emu.add_channel(HELP, "platform-help")
        emu.add_channel("G0PRIV", "private", is_private=True)
        web = WebClient(token=emu.bot_token, base_url=emu.api_url)
        assert web.conversations_history(channel=HELP)["ok"] is True
        with pytest.raises(SlackApiError) as refused:
            web.conversations_history(channel="G0PRIV")
    assert error_of(refused) == "missing_scope"
    assert refused.value.response["needed"] == "groups:history"


def test_chat_delete_removes_the_message(emulator: SlackEmulator, client: WebClient) -> None:
    posted = client.chat_postMessage(channel=HELP, text="oops")

    client.chat_delete(channel=HELP, ts=posted["ts"])

    assert emulator.messages(HELP) == []
    with pytest.raises(SlackApiError) as err:
        client.chat_getPermalink(channel=HELP, message_ts=posted["ts"])
    assert error_of(err) == "message_not_found"


def test_a_user_id_as_channel_posts_in_the_dm_that_conversations_open_returns(
    emulator: SlackEmulator, client: WebClient
) -> None:
    opened = client.conversations_open(users=ALICE)
    again = client.conversations_open(users=ALICE)
    posted = client.chat_postMessage(channel=ALICE, text="your grant expired")

    dm = opened["channel"]["id"]
    assert dm.startswith("D")
    assert "already_open" not in opened.data
    assert again.data == {"ok": True, "no_op": True, "already_open": True, "channel": {"id": dm}}
    assert posted["channel"] == dm
    assert [m.text for m in emulator.messages(dm)] == ["your grant expired"]
    with pytest.raises(SlackApiError) as err:
        client.conversations_open(users="U9NOBODY")
    assert error_of(err) == "user_not_found"


def test_ephemeral_messages_are_kept_per_person(emulator: SlackEmulator, client: WebClient) -> None:
    resp = client.chat_postEphemeral(channel=HELP, user=ALICE, text="Diagnosing…")

    assert set(resp.data) == {"ok", "message_ts"}
    [eph] = emulator.ephemerals(ALICE)
    assert eph.ts == resp["message_ts"]
    assert eph.text == "Diagnosing…"
    assert emulator.ephemerals(BOB) == []
    assert emulator.messages(HELP) == []


def test_ephemeral_to_someone_outside_the_channel_is_refused(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        client.chat_postEphemeral(channel=HELP, user="U9NOBODY", text="hi")

    assert error_of(err) == "user_not_found"


def test_seeded_channels_make_others_unknown_and_membership_matters(
    emulator: SlackEmulator, client: WebClient
) -> None:
    emulator.add_channel("C2PRIVATE", "secret", is_private=True, bot_is_member=False)

    with pytest.raises(SlackApiError) as unknown:
        client.chat_postMessage(channel="C9NOWHERE", text="hi")
    with pytest.raises(SlackApiError) as outside:
        client.chat_postMessage(channel="C2PRIVATE", text="hi")

    assert error_of(unknown) == "channel_not_found"
    assert error_of(outside) == "not_in_channel"


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"text": "x" * 40_001}, "msg_too_long"),
        ({"blocks": [{"type": "divider"}] * 51}, "invalid_blocks"),
        ({"blocks": [{"type": "carousel"}]}, "invalid_blocks"),
        (
            {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]},
            "invalid_blocks",
        ),
        ({"blocks": [{"type": "divider", "block_id": "a"}] * 2}, "invalid_blocks"),
        ({}, "no_text"),
    ],
    ids=["text-too-long", "51-blocks", "unknown-type", "section-too-long", "dup-id", "empty"],
)
def test_what_slack_refuses_in_a_message_is_refused(
    emulator: SlackEmulator, client: WebClient, kwargs: dict[str, Any], error: str
) -> None:
    with pytest.raises(SlackApiError) as err:
        client.api_call("chat.postMessage", json={"channel": HELP, **kwargs})

    assert error_of(err) == error
    assert emulator.messages(HELP) == []


def test_invalid_blocks_says_where_like_slack(client: WebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel=HELP, text="x", blocks=[{"type": "divider"}] * 51)

    assert err.value.response["response_metadata"]["messages"] == [
        "[ERROR] no more than 50 items allowed [json-pointer:/blocks]"
    ]


def test_a_form_post_carries_blocks_as_a_json_string(
    emulator: SlackEmulator, client: WebClient
) -> None:
    resp = client.api_call(
        "chat.postMessage",
        data={"channel": HELP, "text": "form", "blocks": json.dumps([SECTION])},
    )

    assert resp["message"]["blocks"][0]["fields"] == SECTION["fields"]
    call = emulator.calls("chat.postMessage")[0]
    assert call.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert call.params["blocks"][0]["type"] == "section"

    with pytest.raises(SlackApiError) as err:
        client.api_call("chat.postMessage", data={"channel": HELP, "blocks": "[not json"})
    assert error_of(err) == "invalid_blocks_format"


def test_json_without_a_charset_gets_slacks_warning(emulator: SlackEmulator) -> None:
    # The SDK always names the charset, so this request is built by hand.
    request = urllib.request.Request(
        emulator.api_url + "chat.postMessage",
        data=json.dumps({"channel": HELP, "text": "hi"}).encode(),
        headers={
            "Authorization": f"Bearer {emulator.bot_token}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request) as raw:
        resp = json.loads(raw.read())

    assert resp["ok"] is True
    assert resp["warning"] == "missing_charset"
    assert resp["response_metadata"]["warnings"] == ["missing_charset"]


def test_concurrent_posts_get_distinct_timestamps(
    emulator: SlackEmulator, client: WebClient
) -> None:
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(
            pool.map(lambda i: client.chat_postMessage(channel=HELP, text=str(i)), range(20))
        )

    assert len({a["ts"] for a in answers}) == 20
    assert len(emulator.messages(HELP)) == 20


# -- reactions, people, groups -----------------------------------------------------------------


def test_reactions_are_added_and_removed_once(emulator: SlackEmulator, client: WebClient) -> None:
    paste = emulator.user_message(ALICE, HELP, "a paste")

    client.reactions_add(channel=HELP, timestamp=paste.ts, name="eyes")
    with pytest.raises(SlackApiError) as twice:
        client.reactions_add(channel=HELP, timestamp=paste.ts, name="eyes")
    assert emulator.message(HELP, paste.ts).reactions == {"eyes": [emulator.bot_user_id]}

    client.reactions_remove(channel=HELP, timestamp=paste.ts, name="eyes")
    with pytest.raises(SlackApiError) as gone:
        client.reactions_remove(channel=HELP, timestamp=paste.ts, name="eyes")
    with pytest.raises(SlackApiError) as nowhere:
        client.reactions_add(channel=HELP, timestamp="1.000002", name="eyes")

    assert error_of(twice) == "already_reacted"
    assert error_of(gone) == "no_reaction"
    assert error_of(nowhere) == "message_not_found"
    assert emulator.message(HELP, paste.ts).reactions == {}


def test_usergroup_members_and_an_unknown_group(client: WebClient) -> None:
    assert client.usergroups_users_list(usergroup=APPROVERS).data == {"ok": True, "users": [BOB]}

    with pytest.raises(SlackApiError) as err:
        client.usergroups_users_list(usergroup="S9NONE")
    assert error_of(err) == "no_such_subteam"


def test_users_info_and_an_unknown_user(client: WebClient) -> None:
    user = client.users_info(user=ALICE)["user"]

    assert user["id"] == ALICE
    assert user["name"] == "alice"
    assert user["profile"]["email"] == "alice@example.com"
    assert user["is_bot"] is False
    with pytest.raises(SlackApiError) as err:
        client.users_info(user="U9NOBODY")
    assert error_of(err) == "user_not_found"


# -- views --------------------------------------------------------------------------------------


def test_views_open_then_update_answers_the_view(
    emulator: SlackEmulator, client: WebClient
) -> None:
    opened = client.views_open(trigger_id=emulator.trigger_id(ALICE), view=MODAL)["view"]

    assert opened["id"].startswith("V")
    assert opened["root_view_id"] == opened["id"]
    assert opened["callback_id"] == "diagnose"
    assert opened["state"] == {"values": {}}
    assert opened["app_id"] == emulator.app_id
    assert opened["hash"]

    changed = {**MODAL, "title": {"type": "plain_text", "text": "Diagnosing…"}}
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=changed)["view"]
    assert updated["id"] == opened["id"]
    assert updated["hash"] != opened["hash"]
    assert emulator.view(opened["id"])["title"]["text"] == "Diagnosing…"
    assert emulator.view_owner(opened["id"]) == ALICE

    with pytest.raises(SlackApiError) as err:
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL)
    assert error_of(err) == "hash_conflict"


def test_views_push_stacks_on_the_open_modal(emulator: SlackEmulator, client: WebClient) -> None:
    root = client.views_open(trigger_id=emulator.trigger_id(ALICE), view=MODAL)["view"]

    pushed = client.views_push(trigger_id=emulator.trigger_id(ALICE), view=MODAL)["view"]

    assert pushed["root_view_id"] == root["id"]
    assert pushed["previous_view_id"] == root["id"]
    assert len(emulator.views(ALICE)) == 2


def test_a_trigger_id_is_unknown_used_or_expired_like_slack(
    emulator: SlackEmulator, client: WebClient, clock: FrozenClock
) -> None:
    used = emulator.trigger_id(ALICE)
    client.views_open(trigger_id=used, view=MODAL)
    late = emulator.trigger_id(ALICE)
    clock.advance(timedelta(seconds=3.5))

    errors = []
    for trigger in ("1.2.3", used, late):
        with pytest.raises(SlackApiError) as err:
            client.views_open(trigger_id=trigger, view=MODAL)
        errors.append(error_of(err))

    assert errors == ["invalid_arguments", "exchanged_trigger_id", "expired_trigger_id"]
    assert len(emulator.views()) == 1


def test_a_modal_title_longer_than_24_characters_is_invalid(
    emulator: SlackEmulator, client: WebClient
) -> None:
    view = {**MODAL, "title": {"type": "plain_text", "text": "x" * 25}}

    with pytest.raises(SlackApiError) as err:
        client.views_open(trigger_id=emulator.trigger_id(ALICE), view=view)

    assert error_of(err) == "invalid_arguments"
    assert err.value.response["response_metadata"]["messages"] == [
        "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"
    ]


def test_views_publish_keeps_one_home_per_person(
    emulator: SlackEmulator, client: WebClient
) -> None:
    first = client.views_publish(user_id=ALICE, view=HOME)["view"]
    second = client.views_publish(user_id=ALICE, view=HOME)["view"]

    assert first["type"] == "home"
    assert second["id"] == first["id"]
    home = emulator.home(ALICE)
    assert home is not None
    assert home["id"] == first["id"]
    assert emulator.home(BOB) is None


# -- fault injection ----------------------------------------------------------------------------


def test_an_injected_failure_surfaces_as_slack_api_error_once(
    emulator: SlackEmulator, client: WebClient
) -> None:
    emulator.fail("chat.postMessage", "channel_is_archived")

    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel=HELP, text="hi")
    client.chat_postMessage(channel=HELP, text="hi")

    assert error_of(err) == "channel_is_archived"
    assert [c.status for c in emulator.calls("chat.postMessage")] == [200, 200]
    assert [m.text for m in emulator.messages(HELP)] == ["hi"]


@pytest.fixture
def tiny_jitter() -> Iterator[None]:
    """RateLimitErrorRetryHandler sleeps Retry-After plus `random.random()` seconds; a seed whose
    first draw is 0.0015 keeps that jitter out of the test's runtime without touching the SDK."""
    state = random.getstate()
    random.seed(139)
    yield
    random.setstate(state)


@pytest.mark.usefixtures("tiny_jitter")
def test_a_429_is_retried_by_the_sdks_rate_limit_handler(
    emulator: SlackEmulator, client: WebClient
) -> None:
    emulator.throttle("chat.postMessage", retry_after=0)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))

    resp = client.chat_postMessage(channel=HELP, text="hi")

    assert resp["ok"] is True
    calls = emulator.calls("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert calls[0].response == {"ok": False, "error": "ratelimited"}
    assert len(emulator.messages(HELP)) == 1


def test_a_429_without_a_retry_handler_reports_retry_after(
    emulator: SlackEmulator, client: WebClient
) -> None:
    emulator.throttle("chat.postMessage", retry_after=30)

    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel=HELP, text="hi")

    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "30"
    assert error_of(err) == "ratelimited"


def test_a_5xx_is_an_error_and_retried_by_the_server_error_handler(
    emulator: SlackEmulator, client: WebClient
) -> None:
    emulator.server_error("chat.postMessage", status=503)
    with pytest.raises(SlackApiError) as err:
        client.chat_postMessage(channel=HELP, text="hi")
    assert err.value.response.status_code == 503

    emulator.server_error("chat.postMessage", status=500)
    client.retry_handlers.append(
        ServerErrorRetryHandler(interval_calculator=FixedValueRetryIntervalCalculator(0))
    )
    client.chat_postMessage(channel=HELP, text="hi")

    assert [c.status for c in emulator.calls("chat.postMessage")] == [503, 500, 200]
    assert len(emulator.messages(HELP)) == 1


def test_a_dropped_connection_is_retried_by_the_connection_handler(
    emulator: SlackEmulator, client: WebClient
) -> None:
    emulator.inject("chat.postMessage", drop=True)
    client.retry_handlers[:] = [
        ConnectionErrorRetryHandler(interval_calculator=FixedValueRetryIntervalCalculator(0))
    ]

    client.chat_postMessage(channel=HELP, text="hi")

    assert [c.status for c in emulator.calls("chat.postMessage")] == [0, 200]


# -- response_url -------------------------------------------------------------------------------


def test_response_url_posts_ephemeral_by_default_and_in_channel_when_asked(
    emulator: SlackEmulator,
) -> None:
    url = emulator.response_url(channel=HELP, user=ALICE)

    quiet = WebhookClient(url).send(text="only you")
    loud = WebhookClient(url).send(text="everyone", response_type="in_channel")

    assert (quiet.status_code, quiet.body) == (200, "ok")
    assert loud.status_code == 200
    assert [e.text for e in emulator.ephemerals(ALICE)] == ["only you"]
    assert [m.text for m in emulator.messages(HELP)] == ["everyone"]
    posts = emulator.calls("response_url")
    assert [c.params["text"] for c in posts] == ["only you", "everyone"]
    assert posts[1].params["response_type"] == "in_channel"


def test_response_url_replaces_or_deletes_the_message_it_came_from(
    emulator: SlackEmulator, client: WebClient
) -> None:
    card = client.chat_postMessage(channel=HELP, text="Approve?", blocks=[BUTTONS])
    url = emulator.response_url(channel=HELP, user=BOB, message_ts=card["ts"])

    WebhookClient(url).send(text="Approved by bob", replace_original=True)
    replaced = emulator.message(HELP, card["ts"])
    WebhookClient(url).send(delete_original=True)

    assert replaced.text == "Approved by bob"
    assert replaced.blocks == []
    assert emulator.messages(HELP) == []


def test_response_url_replaces_an_ephemeral_source(
    emulator: SlackEmulator, client: WebClient
) -> None:
    eph = client.chat_postEphemeral(channel=HELP, user=ALICE, text="Diagnosing…")
    url = emulator.response_url(
        channel=HELP, user=ALICE, message_ts=eph["message_ts"], ephemeral=True
    )

    WebhookClient(url).send(text="Done", replace_original=True)

    assert [e.text for e in emulator.ephemerals(ALICE)] == ["Done"]


def test_a_slash_command_response_url_replaces_its_own_last_response(
    emulator: SlackEmulator,
) -> None:
    url = emulator.response_url(channel=HELP, user=ALICE)

    WebhookClient(url).send(text="Diagnosing…")
    WebhookClient(url).send(text="Diagnosed", replace_original=True)

    assert [e.text for e in emulator.ephemerals(ALICE)] == ["Diagnosed"]


def test_response_url_is_good_for_five_posts_within_thirty_minutes(
    emulator: SlackEmulator, clock: FrozenClock
) -> None:
    url = emulator.response_url(channel=HELP, user=ALICE)
    for i in range(5):
        assert WebhookClient(url).send(text=str(i)).status_code == 200
    sixth = WebhookClient(url).send(text="6")

    late = emulator.response_url(channel=HELP, user=ALICE)
    clock.advance(timedelta(minutes=31))
    expired = WebhookClient(late).send(text="late")

    assert (sixth.status_code, sixth.body) == (404, "used_url")
    assert (expired.status_code, expired.body) == (404, "expired_url")
    assert len(emulator.ephemerals(ALICE)) == 5


def test_response_url_without_text_is_no_text(emulator: SlackEmulator) -> None:
    url = emulator.response_url(channel=HELP, user=ALICE)

    resp = WebhookClient(url).send_dict({"response_type": "ephemeral"})

    assert (resp.status_code, resp.body) == (400, "no_text")


# -- the transcript --------------------------------------------------------------------------


def test_the_transcript_shows_what_each_person_saw(
    emulator: SlackEmulator, client: WebClient
) -> None:
    paste = emulator.user_message(ALICE, HELP, "<@U0BOT> denied &lt;!channel&gt; <!here>")
    client.reactions_add(channel=HELP, timestamp=paste.ts, name="eyes")
    client.chat_postEphemeral(channel=HELP, user=ALICE, text="Diagnosing…")
    context = {"type": "context", "elements": [{"type": "mrkdwn", "text": "asked by <@U1ALICE>"}]}
    client.chat_postMessage(
        channel=HELP, thread_ts=paste.ts, text="card", blocks=[SECTION, context, BUTTONS]
    )
    client.chat_postMessage(channel=BOB, text="Approve <@U1ALICE>'s request?")

    text = emulator.transcript()

    assert text == (
        "#platform-help · @alice\n"
        "    @acr-bot denied <!channel> @here\n"
        f"#platform-help · acr-bot reacted :eyes: to @alice's message {paste.ts}\n"
        "#platform-help · acr-bot (only @alice sees this)\n"
        "    Diagnosing…\n"
        "#platform-help › thread of @alice's “@acr-bot denied <!channel> @here” · acr-bot\n"
        "    *The firewall refused* `1.2.3.4`\n"
        "    *Registry*\n"
        "    contosoprod\n"
        "    *IP*\n"
        "    1.2.3.4\n"
        "    asked by @alice\n"
        "    [Request temporary access]\n"
        "DM @bob · acr-bot\n"
        "    Approve @alice's request?\n"
    )
    assert "Diagnosing…" not in emulator.transcript(BOB)
    assert "Diagnosing…" in emulator.transcript(ALICE)


def test_modals_and_homes_appear_in_the_transcript_for_their_owner(
    emulator: SlackEmulator, client: WebClient
) -> None:
    client.views_open(trigger_id=emulator.trigger_id(ALICE), view=MODAL)
    client.views_publish(user_id=BOB, view=HOME)

    assert emulator.transcript(ALICE) == (
        "modal for @alice · opened “Diagnose a pull error” (only @alice sees this)\n"
        "    Paste the error: [_____]\n"
        "    [Diagnose]\n"
    )
    assert emulator.transcript(BOB) == (
        "App Home of @bob · acr-bot published (only @bob sees this)\n    No open grants.\n"
    )


# -- lifecycle ----------------------------------------------------------------------------------


def test_stop_closes_the_port() -> None:
    emulator = SlackEmulator()
    emulator.start()
    port = int(emulator.base_url.rsplit(":", 1)[1])

    emulator.stop()

    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass
