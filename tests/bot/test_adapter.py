"""The Azure Functions ⇄ Bolt adapter: really signed Slack requests, as Azure `HttpRequest`s,
through a real Bolt App whose WebClient points at the loopback Slack emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest
from slack_bolt import Ack, App, BoltRequest, BoltResponse, Respond
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient, signature

from bot.adapter import SlackRequestHandler, to_bolt_request, to_http_response
from sandbox.slack_client import SlackClient, SlackRequest
from sandbox.slack_emulator import SlackEmulator

SECRET = "adapter-test-signing-secret"
ALICE = "U1ALICE"
HELP = "C1HELP"
PASTE = "Überprüfung fehlgeschlagen 🚫 — denied: client with IP '20.103.186.69' is not allowed"

CARD: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "The firewall refused 1.2.3.4"}},
    {
        "type": "actions",
        "block_id": "card_actions",
        "elements": [
            {
                "type": "button",
                "action_id": "request_access",
                "text": {"type": "plain_text", "text": "Request temporary access"},
                "value": "grant-7",
            }
        ],
    },
]
MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "diagnose",
    "private_metadata": json.dumps({"channel": HELP}),
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


class Seen:
    """What the listeners received, so a test can tell whether one ran at all."""

    def __init__(self) -> None:
        self.commands: list[dict[str, Any]] = []
        self.actions: list[dict[str, Any]] = []
        self.views: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.retry_nums: list[str | None] = []
        self.other: list[tuple[str, dict[str, Any]]] = []

    def count(self) -> int:
        return sum(map(len, (self.commands, self.actions, self.views, self.events, self.other)))


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emu:
        emu.add_user(ALICE, "alice")
        emu.add_channel(HELP, "platform-help")
        yield emu


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def app(emulator: SlackEmulator, seen: Seen) -> App:
    def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        # The bot's identity comes from configuration, so Bolt never calls auth.test.
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token=emulator.bot_token,
            bot_id=emulator.bot_id,
            bot_user_id=emulator.bot_user_id,
        )

    bolt = App(
        signing_secret=SECRET,
        process_before_response=True,
        token_verification_enabled=False,
        authorize=authorize,
        client=WebClient(base_url=emulator.api_url),
    )

    @bolt.command("/acr-why")
    def on_command(ack: Ack, command: dict[str, Any]) -> None:
        seen.commands.append(command)
        ack(f"Diagnosing: {command['text']}")

    @bolt.command("/acr-why-later")
    def on_command_answered_later(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        seen.commands.append(command)
        ack()
        respond(text=f"Diagnosed: {command['text']}")

    @bolt.action("request_access")
    def on_action(ack: Ack, body: dict[str, Any]) -> None:
        seen.actions.append(body)
        ack()

    @bolt.view("diagnose")
    def on_submit(ack: Ack, view: dict[str, Any]) -> None:
        seen.views.append(view)
        paste = view["state"]["values"]["paste"]["text"]["value"]
        if not paste:
            ack(response_action="errors", errors={"paste": "Paste the error you got."})
        else:
            ack()

    @bolt.event("app_mention")
    def on_mention(event: dict[str, Any], request: BoltRequest) -> None:
        seen.events.append(event)
        seen.retry_nums.append(request.headers.get("x-slack-retry-num", [None])[0])

    @bolt.message_shortcut("diagnose_message")
    def on_message_shortcut(ack: Ack, shortcut: dict[str, Any]) -> None:
        seen.other.append(("message_shortcut", shortcut))
        ack()

    @bolt.global_shortcut("diagnose_global")
    def on_global_shortcut(ack: Ack, shortcut: dict[str, Any]) -> None:
        seen.other.append(("global_shortcut", shortcut))
        ack()

    @bolt.view_closed("diagnose")
    def on_closed(ack: Ack, view: dict[str, Any]) -> None:
        seen.other.append(("view_closed", view))
        ack()

    @bolt.event("message")
    def on_message(event: dict[str, Any]) -> None:
        seen.other.append(("message", event))

    @bolt.event("app_home_opened")
    def on_home(event: dict[str, Any]) -> None:
        seen.other.append(("app_home_opened", event))

    return bolt


@pytest.fixture
def handler(app: App) -> SlackRequestHandler:
    return SlackRequestHandler(app, signing_secret=SECRET)


@pytest.fixture
def slack(emulator: SlackEmulator) -> SlackClient:
    return SlackClient(SECRET, emulator=emulator)


def send(handler: SlackRequestHandler, request: SlackRequest) -> func.HttpResponse:
    return handler.handle(request.to_azure())


def text_of(resp: func.HttpResponse) -> str:
    return str(resp.get_body().decode("utf-8"))


# -- acks ---------------------------------------------------------------------------------------


def test_a_slash_command_is_acked_with_the_listeners_answer_and_no_slack_call(
    handler: SlackRequestHandler, slack: SlackClient, emulator: SlackEmulator, seen: Seen
) -> None:
    resp = send(handler, slack.slash_command("/acr-why", PASTE, user=ALICE, channel=HELP))

    assert resp.status_code == 200
    assert text_of(resp) == f"Diagnosing: {PASTE}"
    assert resp.mimetype == "text/plain"
    assert resp.charset == "utf-8"
    [command] = seen.commands
    assert command["text"] == PASTE
    assert command["user_id"] == ALICE
    assert command["channel_id"] == HELP
    assert emulator.calls() == []


def test_a_block_action_is_acked(
    handler: SlackRequestHandler, slack: SlackClient, emulator: SlackEmulator, seen: Seen
) -> None:
    web = WebClient(token=emulator.bot_token, base_url=emulator.api_url)
    card = web.chat_postMessage(channel=HELP, text="card", blocks=CARD)
    emulator.clear_calls()

    resp = send(
        handler,
        slack.block_action(
            "request_access", user=ALICE, message=emulator.message(HELP, card["ts"])
        ),
    )

    assert resp.status_code == 200
    assert text_of(resp) == ""
    [body] = seen.actions
    assert body["actions"][0]["value"] == "grant-7"
    assert body["actions"][0]["block_id"] == "card_actions"
    assert body["container"]["message_ts"] == card["ts"]
    assert body["message"]["ts"] == card["ts"]
    assert emulator.calls() == []
    assert (
        "#platform-help · @alice clicked “Request temporary access” on @acr-bot's message"
        in emulator.transcript()
    )


def test_a_view_submission_is_acked_or_answered_with_field_errors(
    handler: SlackRequestHandler, slack: SlackClient, emulator: SlackEmulator, seen: Seen
) -> None:
    web = WebClient(token=emulator.bot_token, base_url=emulator.api_url)
    view = web.views_open(trigger_id=emulator.trigger_id(ALICE), view=MODAL)["view"]
    emulator.clear_calls()

    accepted = send(
        handler, slack.view_submission(view["id"], user=ALICE, values={"paste": {"text": PASTE}})
    )
    refused = send(handler, slack.view_submission(view["id"], user=ALICE))

    assert accepted.status_code == 200
    assert text_of(accepted) == ""
    assert seen.views[0]["state"]["values"]["paste"]["text"] == {
        "type": "plain_text_input",
        "value": PASTE,
    }
    assert json.loads(seen.views[0]["private_metadata"]) == {"channel": HELP}
    assert refused.status_code == 200
    assert refused.mimetype == "application/json"
    assert json.loads(text_of(refused)) == {
        "response_action": "errors",
        "errors": {"paste": "Paste the error you got."},
    }
    assert emulator.calls() == []


def test_an_event_is_acked_and_its_retry_headers_reach_the_listener(
    handler: SlackRequestHandler, slack: SlackClient, emulator: SlackEmulator, seen: Seen
) -> None:
    mention = slack.app_mention(PASTE, user=ALICE, channel=HELP)

    first = send(handler, mention)
    again = send(handler, slack.retried(mention, num=1, reason="http_timeout"))

    assert (first.status_code, again.status_code) == (200, 200)
    assert [e["text"] for e in seen.events] == [f"<@{emulator.bot_user_id}> {PASTE}"] * 2
    assert seen.retry_nums == [None, "1"]
    assert emulator.calls() == []


def test_url_verification_answers_the_challenge(
    handler: SlackRequestHandler, slack: SlackClient
) -> None:
    resp = send(
        handler, slack.url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    )

    assert resp.status_code == 200
    assert json.loads(text_of(resp)) == {
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    }


def test_a_listener_may_answer_through_the_response_url(
    handler: SlackRequestHandler, slack: SlackClient, emulator: SlackEmulator
) -> None:
    resp = send(handler, slack.slash_command("/acr-why-later", PASTE, user=ALICE, channel=HELP))

    assert resp.status_code == 200
    [post] = emulator.calls("response_url")
    assert post.params["text"] == f"Diagnosed: {PASTE}"
    assert [e.text for e in emulator.ephemerals(ALICE)] == [f"Diagnosed: {PASTE}"]


def test_bolt_routes_every_kind_of_request_to_its_listener(
    handler: SlackRequestHandler, slack: SlackClient, emulator: SlackEmulator, seen: Seen
) -> None:
    web = WebClient(token=emulator.bot_token, base_url=emulator.api_url)
    view = web.views_open(trigger_id=emulator.trigger_id(ALICE), view=MODAL)["view"]
    requests = [
        slack.message_shortcut(
            "diagnose_message",
            user=ALICE,
            channel=HELP,
            message={"text": "see below", "attachments": [{"text": PASTE}]},
        ),
        slack.global_shortcut("diagnose_global", user=ALICE),
        slack.view_closed(view, user=ALICE),
        slack.direct_message(PASTE, user=ALICE),
        slack.app_home_opened(user=ALICE),
    ]

    answers = [send(handler, r) for r in requests]

    assert [a.status_code for a in answers] == [200] * 5
    kinds = [kind for kind, _ in seen.other]
    assert kinds == [
        "message_shortcut",
        "global_shortcut",
        "view_closed",
        "message",
        "app_home_opened",
    ]
    shortcut = seen.other[0][1]
    # The message the shortcut was used on exists in Slack, so the bot can reply in its thread.
    assert emulator.message(HELP, shortcut["message_ts"]).attachments == [{"text": PASTE}]
    assert shortcut["message"]["attachments"] == [{"text": PASTE}]
    dm = seen.other[3][1]
    assert (dm["channel_type"], dm["channel"], dm["text"]) == (
        "im",
        emulator.dm_channel(ALICE),
        PASTE,
    )
    assert seen.other[4][1]["tab"] == "home"


def test_the_bots_own_messages_are_ignored_and_other_bots_reach_the_listener(
    handler: SlackRequestHandler, slack: SlackClient, emulator: SlackEmulator, seen: Seen
) -> None:
    own = slack.message(
        "Diagnosed", channel=HELP, user=emulator.bot_user_id, bot_id=emulator.bot_id
    )
    other = slack.message("deploy failed", channel=HELP, bot_id="B9CI", subtype="bot_message")

    answers = [send(handler, own), send(handler, other)]

    assert [a.status_code for a in answers] == [200, 200]
    assert [(e["bot_id"], e.get("subtype")) for _, e in seen.other] == [("B9CI", "bot_message")]


def test_requests_are_in_slacks_wire_formats(slack: SlackClient, emulator: SlackEmulator) -> None:
    command = slack.slash_command("/acr-why", PASTE, user=ALICE, channel=HELP)
    mention = slack.app_mention(PASTE, user=ALICE, channel=HELP)
    message = emulator.messages(HELP)[-1]
    click = slack.block_action("x", user=ALICE, message=message, value="v")

    assert command.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert set(command.payload) == {
        "token", "team_id", "team_domain", "channel_id", "channel_name", "user_id",
        "user_name", "command", "text", "api_app_id", "is_enterprise_install",
        "response_url", "trigger_id",
    }  # fmt: skip
    assert command.payload["response_url"].startswith(emulator.base_url + "/response/")
    assert command.body.startswith("token=")
    assert click.body.startswith("payload=")
    assert click.payload["type"] == "block_actions"
    assert click.payload["container"] == {
        "type": "message",
        "message_ts": message.ts,
        "channel_id": HELP,
        "is_ephemeral": False,
    }
    assert click.payload["actions"][0]["value"] == "v"
    assert mention.headers["Content-Type"] == "application/json"
    envelope = mention.payload
    assert envelope["type"] == "event_callback"
    assert envelope["event_id"].startswith("Ev")
    assert envelope["authorizations"][0]["user_id"] == emulator.bot_user_id
    assert envelope["event"]["ts"] == message.ts
    assert envelope["event"]["blocks"][0]["type"] == "rich_text"
    for request in (command, mention, click):
        assert request.headers["X-Slack-Signature"].startswith("v0=")
        assert request.headers["X-Slack-Request-Timestamp"].isdigit()


# -- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize("spoil", ["forged", "stale"])
def test_a_forged_or_stale_request_gets_401_and_no_listener_runs(
    handler: SlackRequestHandler,
    slack: SlackClient,
    emulator: SlackEmulator,
    seen: Seen,
    spoil: str,
) -> None:
    requests = [
        slack.slash_command("/acr-why", PASTE, user=ALICE, channel=HELP),
        slack.app_mention(PASTE, user=ALICE, channel=HELP),
    ]
    emulator.clear_calls()

    spoiled = [slack.forged(r) if spoil == "forged" else slack.stale(r) for r in requests]
    answers = [send(handler, r) for r in spoiled]

    assert [a.status_code for a in answers] == [401, 401]
    assert seen.count() == 0
    assert emulator.calls() == []


def test_stale_is_validly_signed_and_forged_is_not(slack: SlackClient) -> None:
    """So the 401s above come from the age of one and the signature of the other."""
    stale = slack.stale(slack.url_verification("x"))
    forged = slack.forged(slack.url_verification("x"))
    signed_at = int(stale.headers["X-Slack-Request-Timestamp"])

    class SignedAt(signature.Clock):
        def now(self) -> float:
            return float(signed_at)

    assert slack.now() - signed_at > 5 * 60
    assert signature.SignatureVerifier(SECRET, SignedAt()).is_valid_request(
        stale.body, stale.headers
    )
    assert not signature.SignatureVerifier(SECRET).is_valid_request(stale.body, stale.headers)
    assert not signature.SignatureVerifier(SECRET).is_valid_request(forged.body, forged.headers)


def test_an_incoming_bolt_internal_header_is_dropped(
    handler: SlackRequestHandler, slack: SlackClient, seen: Seen
) -> None:
    # Bolt reads x-slack-bolt-lazy-only to skip the ack listeners; from the network it must not.
    request = slack.slash_command("/acr-why", PASTE, user=ALICE, channel=HELP).with_headers(
        {"X-Slack-Bolt-Lazy-Only": "1", "x-slack-bolt-lazy-function-name": "on_command"}
    )

    bolt_request = to_bolt_request(request.to_azure())
    resp = send(handler, request)

    assert not [h for h in bolt_request.headers if h.startswith("x-slack-bolt-")]
    assert bolt_request.lazy_only is False
    assert resp.status_code == 200
    assert text_of(resp) == f"Diagnosing: {PASTE}"
    assert len(seen.commands) == 1


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_anything_but_post_is_404(
    handler: SlackRequestHandler, slack: SlackClient, seen: Seen, method: str
) -> None:
    signed = slack.slash_command("/acr-why", PASTE, user=ALICE, channel=HELP)
    req = func.HttpRequest(
        method=method,
        url="http://localhost/api/slack/events",
        headers=signed.headers,
        body=signed.body.encode(),
    )

    resp = handler.handle(req)

    assert resp.status_code == 404
    assert seen.count() == 0


def test_the_handler_refuses_an_app_that_would_work_after_the_response() -> None:
    app = App(signing_secret=SECRET, token_verification_enabled=False, authorize=lambda: None)

    with pytest.raises(ValueError, match="process_before_response"):
        SlackRequestHandler(app)


def test_a_lazy_listener_is_refused_instead_of_running_after_the_response(
    app: App, handler: SlackRequestHandler, slack: SlackClient
) -> None:
    ran: list[str] = []

    def later() -> None:
        ran.append("later")

    app.command("/acr-lazy")(ack=lambda ack: ack("acked"), lazy=[later])

    resp = send(handler, slack.slash_command("/acr-lazy", user=ALICE, channel=HELP))

    assert resp.status_code == 500
    assert ran == []


# -- the converters -----------------------------------------------------------------------------


def test_to_bolt_request_keeps_the_exact_body_headers_and_query() -> None:
    body = "command=%2Facr-why&text=" + "Überprüfung 🚫"
    req = func.HttpRequest(
        method="POST",
        url="http://localhost/api/slack/events?a=1&a=2&b=3",
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Signature": "v0=x"},
        params={"a": "2", "b": "3"},
        body=body.encode("utf-8"),
    )

    bolt = to_bolt_request(req)

    assert bolt.raw_body == body
    assert bolt.body == {"command": "/acr-why", "text": "Überprüfung 🚫"}
    assert bolt.query == {"a": ["1", "2"], "b": ["3"]}
    assert bolt.headers["x-slack-signature"] == ["v0=x"]
    assert bolt.content_type == "application/x-www-form-urlencoded"


def test_to_bolt_request_takes_the_query_from_params_when_the_url_has_none() -> None:
    req = func.HttpRequest(
        method="POST",
        url="http://localhost/api/slack/events",
        headers={},
        params={"code": "x"},
        body=b"{}",
    )

    assert to_bolt_request(req).query == {"code": ["x"]}


def test_a_body_that_is_not_utf8_is_refused_by_the_signature_check(
    handler: SlackRequestHandler, slack: SlackClient, seen: Seen
) -> None:
    signed = slack.sign("text=caf\u00e9", "application/x-www-form-urlencoded")
    req = func.HttpRequest(
        method="POST",
        url="http://localhost/api/slack/events",
        headers=signed.headers,
        body="text=café".encode("latin-1"),
    )

    resp = handler.handle(req)

    assert resp.status_code == 401
    assert seen.count() == 0


def test_to_http_response_keeps_status_body_and_every_header_value() -> None:
    bolt = BoltResponse(
        status=302,
        body='{"ok": true}',
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Set-Cookie": ["a=1; Path=/", "b=2; Path=/"],
            "Location": "https://example.slack.com/",
        },
    )

    resp = to_http_response(bolt)

    assert resp.status_code == 302
    assert resp.get_body() == b'{"ok": true}'
    assert resp.mimetype == "application/json"
    assert resp.charset == "utf-8"
    assert resp.headers.getlist("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]
    assert resp.headers["location"] == "https://example.slack.com/"


def test_to_http_response_encodes_non_ascii_bodies_as_utf8() -> None:
    resp = to_http_response(BoltResponse(status=200, body=f"Diagnosing: {PASTE}"))

    assert resp.get_body().decode("utf-8") == f"Diagnosing: {PASTE}"
    assert resp.mimetype == "text/plain"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{", "application/json"),
        ("payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        ("payload=", "application/x-www-form-urlencoded"),
    ],
)
def test_a_malformed_body_gets_401_unsigned_and_400_signed_never_500(
    handler: SlackRequestHandler, slack: SlackClient, seen: Seen, body: str, content_type: str
) -> None:
    # Bolt parses the body when the request is made, before the signature is checked: an
    # unsigned malformed body was a 500 (a crash of the function) instead of a 401.
    unsigned = func.HttpRequest(
        method="POST",
        url="http://localhost/api/slack/events",
        headers={"content-type": content_type},
        body=body.encode(),
    )
    assert handler.handle(unsigned).status_code == 401
    signed = slack.sign(body, content_type)
    assert send(handler, signed).status_code == 400
    assert seen.count() == 0
