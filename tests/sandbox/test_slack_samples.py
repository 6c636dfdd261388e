"""The Slack emulator answers every Web API method the bot uses in the shapes of real Slack
answers: the Slack SDKs' own samples (`tests/recordings/slack/web-api-samples.json`). Each answer
carries only keys Slack's answers carry, each with Slack's JSON type, ids and timestamps in Slack's
forms, and the headers Slack sends."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

from sandbox.slack_emulator import SlackEmulator
from services.clock import FrozenClock
from tests.sandbox.test_slack_emulator import (
    ALICE,
    APPROVERS,
    BOB,
    HELP,
    HOME,
    MODAL,
    SECTION,
    seed,
)

SAMPLES = json.loads(
    (
        Path(__file__).resolve().parents[1] / "recordings" / "slack" / "web-api-samples.json"
    ).read_text()
)
TS = re.compile(r"\d{10}\.\d{6}")
#: Keys whose values the emulator must answer (what the bot reads, and Slack's docs always show).
REQUIRED: dict[str, set[str]] = {
    "auth.test": {"ok", "url", "team", "user", "team_id", "user_id", "bot_id"},
    "chat.postMessage": {"ok", "channel", "ts", "message"},
    "chat.update": {"ok", "channel", "ts", "text", "message"},
    "chat.delete": {"ok", "channel", "ts"},
    "chat.postEphemeral": {"ok", "message_ts"},
    "chat.getPermalink": {"ok", "channel", "permalink"},
    "reactions.add": {"ok"},
    "reactions.remove": {"ok"},
    "views.open": {"ok", "view"},
    "views.push": {"ok", "view"},
    "views.update": {"ok", "view"},
    "views.publish": {"ok", "view"},
    "conversations.open": {"ok", "channel"},
    "usergroups.users.list": {"ok", "users"},
    "users.info": {"ok", "user"},
    "apps.connections.open": {"ok", "url"},
    "files.info": {"ok", "file"},
}
#: What the bot reads of a file object (events and `files.info`).
FILE_KEYS = {"id", "name", "title", "mimetype", "filetype", "pretty_type", "mode", "size"}
FILE_INFO_KEYS = FILE_KEYS | {"url_private", "url_private_download", "is_external"}


def differences(sample: Any, ours: Any, where: str, nullable: frozenset[str]) -> list[str]:
    """Keys of `ours` that Slack's sample lacks, and values whose JSON type differs. An empty
    list or object in the sample is where it was trimmed: not compared further."""
    if isinstance(sample, dict) and isinstance(ours, dict):
        if not sample:
            return []
        out = [f"{where}.{k}: not in Slack's answers" for k in ours if k not in sample]
        for key in sample.keys() & ours.keys():
            if ours[key] is None and key in nullable:
                continue
            out += differences(sample[key], ours[key], f"{where}.{key}", nullable)
        return out
    if isinstance(sample, list) and isinstance(ours, list):
        return differences(sample[0], ours[0], f"{where}[0]", nullable) if sample and ours else []
    if type(sample) is not type(ours):
        return [f"{where}: {type(ours).__name__}, Slack answers {type(sample).__name__}"]
    if isinstance(sample, str) and sample == "0000000000.000000" and not TS.fullmatch(ours):
        return [f"{where}: {ours!r} is not a Slack ts"]
    return []


def check(method: str, response: SlackResponse) -> dict[str, Any]:
    data = dict(response.data)  # type: ignore[arg-type]
    nullable = frozenset(SAMPLES["nullable"].get(method, ()))
    assert differences(SAMPLES["methods"][method], data, method, nullable) == []
    assert REQUIRED[method] <= data.keys(), method
    assert data["ok"] is True
    headers = lowered(response)
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-slack-req-id"])
    return data


def lowered(response: SlackResponse) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items()}


@pytest.fixture
def emulator(clock: FrozenClock) -> Iterator[SlackEmulator]:
    with SlackEmulator(
        clock=clock,
        scopes=[
            "chat:write",
            "reactions:write",
            "im:write",
            "usergroups:read",
            "users:read",
            "commands",
            "files:read",
        ],
    ) as emu:
        yield seed(emu)


@pytest.fixture
def client(emulator: SlackEmulator) -> WebClient:
    return WebClient(token=emulator.bot_token, base_url=emulator.api_url)


def test_messages_answer_in_slacks_shapes(emulator: SlackEmulator, client: WebClient) -> None:
    check("auth.test", client.auth_test())
    posted = check(
        "chat.postMessage", client.chat_postMessage(channel=HELP, text="hi", blocks=[SECTION])
    )
    assert TS.fullmatch(posted["ts"])
    assert posted["message"]["ts"] == posted["ts"]
    reply = client.chat_postMessage(channel=HELP, text="in thread", thread_ts=posted["ts"])
    assert check("chat.postMessage", reply)["message"]["thread_ts"] == posted["ts"]
    updated = check("chat.update", client.chat_update(channel=HELP, ts=posted["ts"], text="edited"))
    assert updated["ts"] == posted["ts"]
    check("chat.update", client.chat_update(channel=HELP, ts=reply["ts"], text="edited reply"))
    check("chat.getPermalink", client.chat_getPermalink(channel=HELP, message_ts=reply["ts"]))
    check("chat.postEphemeral", client.chat_postEphemeral(channel=HELP, user=ALICE, text="psst"))
    check("reactions.add", client.reactions_add(channel=HELP, timestamp=posted["ts"], name="eyes"))
    check(
        "reactions.remove",
        client.reactions_remove(channel=HELP, timestamp=posted["ts"], name="eyes"),
    )
    check("chat.delete", client.chat_delete(channel=HELP, ts=reply["ts"]))


def test_views_answer_in_slacks_shapes(emulator: SlackEmulator, client: WebClient) -> None:
    opened = check(
        "views.open", client.views_open(trigger_id=emulator.trigger_id(ALICE), view=MODAL)
    )
    assert opened["view"]["close"] is None  # as Slack's docs show a modal without a close button
    pushed = check(
        "views.push", client.views_push(trigger_id=emulator.trigger_id(ALICE), view=MODAL)
    )
    assert pushed["view"]["previous_view_id"] == opened["view"]["id"]
    check("views.update", client.views_update(view_id=opened["view"]["id"], view=MODAL))
    check("views.publish", client.views_publish(user_id=BOB, view=HOME))


def test_people_and_conversations_answer_in_slacks_shapes(emulator, client: WebClient) -> None:
    first = check("conversations.open", client.conversations_open(users=ALICE, return_im=True))
    again = check("conversations.open", client.conversations_open(users=ALICE, return_im=True))
    assert (again["no_op"], again["already_open"]) == (True, True)
    assert again["channel"]["id"] == first["channel"]["id"]
    check("conversations.open", client.conversations_open(users=BOB))
    assert check("usergroups.users.list", client.usergroups_users_list(usergroup=APPROVERS))[
        "users"
    ] == [BOB]
    check("users.info", client.users_info(user=ALICE))
    check("users.info", client.users_info(user=emulator.bot_user_id))


def test_socket_mode_url_answers_in_slacks_shape(emulator: SlackEmulator) -> None:
    emulator.socket_mode_url = lambda: "ws://127.0.0.1:1/link"
    web = WebClient(base_url=emulator.api_url)
    check("apps.connections.open", web.apps_connections_open(app_token=emulator.app_token))


def test_scopes_are_told_in_slacks_headers(emulator: SlackEmulator, client: WebClient) -> None:
    headers = lowered(client.chat_postMessage(channel=HELP, text="hi"))
    assert "chat:write" in headers["x-oauth-scopes"].split(",")
    assert headers["x-accepted-oauth-scopes"] == "chat:write"


def test_files_answer_in_slacks_shapes(emulator: SlackEmulator, client: WebClient) -> None:
    dm = emulator.dm_channel(ALICE)
    for kind in ({}, {"mode": "snippet", "filetype": "text"}):
        file = emulator.add_file(ALICE, "build.log", "denied\n", **kind)
        emulator.user_message(ALICE, dm, "", files=[file])
        info = check("files.info", client.files_info(file=file["id"]))["file"]
        assert info.keys() >= FILE_INFO_KEYS
        assert info["ims"] == [dm]
        assert info["size"] == len("denied\n")
    headers = lowered(client.files_info(file=file["id"]))
    assert headers["x-accepted-oauth-scopes"] == "files:read"
