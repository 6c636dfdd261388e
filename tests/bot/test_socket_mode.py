"""`python -m bot socket` end to end: the real Bolt app on slack_sdk's built-in Socket Mode client,
connected through the Slack emulator's `apps.connections.open` to the loopback Socket Mode server;
jobs through Azurite's queue into the in-process worker; the ARM emulator as the registry."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.runtime import Runtime
from bot.socket_mode import SocketModeRunner
from sandbox.arm_emulator import ArmEmulator
from sandbox.slack_client import SlackClient
from sandbox.slack_emulator import SlackEmulator
from sandbox.socket_mode_server import EVENTS_API, INTERACTIVE, SLASH_COMMANDS, SocketModeServer
from services.azure.queue_drain import QueueOptions
from services.settings import Settings
from tests.sandbox_helpers import RESOURCE_GROUP, SUBSCRIPTION, StaticTokenCredential

ROOT = Path(__file__).resolve().parents[2]
SECRET = "socket-signing-secret"  # seals button values; Socket Mode requests are not signed
TOKEN = "xoxb-socket-bot-token"
APP_TOKEN = "xapp-1-A0APP-1-socket-app-token"
DEV, APPROVER = "U0DEV", "U0APPROVER"
CHANNEL, APPROVALS = "C0BUILD", "C0APPROVALS"
PASTE = (
    'Error response from daemon: Head "https://contosoprod.azurecr.io/v2/shop/api/manifests/1.4": '
    "denied: client with IP '20.61.12.7' is not allowed access. Refer "
    "https://aka.ms/acr/firewall to grant access."
)
OTHER_PASTE = PASTE.replace("20.61.12.7", "20.61.12.8")
#: host.json's queue behaviour, with failed jobs retried at once and an idle queue polled often.
FAST_QUEUE = dataclasses.replace(
    QueueOptions.from_host_json(), visibility_timeout=0, max_polling_interval=0.05
)


def eventually(condition: Callable[[], Any], what: str, timeout: float = 40.0) -> Any:
    """Wait for another thread (or process) to deliver, up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def succeeded(call: Any) -> bool:
    """A Web API call answered `ok: true`, or a response_url post answered 200."""
    body = call.response
    return call.status == 200 and (not isinstance(body, dict) or body.get("ok") is True)


@dataclass
class Slack:
    emulator: SlackEmulator
    server: SocketModeServer
    client: SlackClient
    arm: ArmEmulator
    env: dict[str, str]


@dataclass
class World(Slack):
    runtime: Runtime
    runner: SocketModeRunner

    def card(self, method: str, count: int = 1) -> list[Any]:
        """The first `count` successful calls of `method`, once the worker has made them."""

        def answered() -> list[Any]:
            return [c for c in self.emulator.calls(method) if succeeded(c)]

        eventually(lambda: len(answered()) >= count, f"{count} × {method}")
        return answered()[:count]

    def queue_is_idle(self) -> bool:
        peeked = list(self.runtime.jobs.client.peek_messages(max_messages=1))
        return not peeked and self.runner.jobs.running == 0


@pytest.fixture
def slack(azurite_connection_string: str, unique_name: str) -> Iterator[Slack]:
    with (
        SlackEmulator(bot_token=TOKEN, app_token=APP_TOKEN) as emulator,
        # Frequent pings let the app's socket client close at once instead of up to 3 s later.
        SocketModeServer(emulator, ping_interval=0.05) as server,
        ArmEmulator() as arm,
    ):
        emulator.add_user(DEV, "dev")
        emulator.add_user(APPROVER, "approver")
        emulator.add_channel(CHANNEL, "build", members=[DEV, APPROVER])
        emulator.add_channel(APPROVALS, "acr-approvals", members=[APPROVER])
        arm.add_registry(SUBSCRIPTION, RESOURCE_GROUP, "contosoprod", rules=["4.175.12.34"])
        env = {
            "AzureWebJobsStorage": azurite_connection_string,
            "ACRBOT_TABLE_PREFIX": unique_name,
            "ACRBOT_QUEUE_NAME": unique_name,
            "ACRBOT_SLACK_BOT_TOKEN": TOKEN,
            "ACRBOT_SLACK_SIGNING_SECRET": SECRET,
            "ACRBOT_SLACK_APP_TOKEN": APP_TOKEN,
            "ACRBOT_SLACK_API_URL": emulator.api_url,
            "ACRBOT_SLACK_TEAM_IDS": json.dumps([emulator.team_id]),
            "ACRBOT_SLACK_BOT_USER_ID": emulator.bot_user_id,
            "ACRBOT_SLACK_BOT_ID": emulator.bot_id,
            "ACRBOT_SLACK_APPROVALS_CHANNEL": APPROVALS,
            "ACRBOT_REGISTRIES": json.dumps(
                [
                    {
                        "name": "contosoprod",
                        "subscription_id": SUBSCRIPTION,
                        "resource_group": RESOURCE_GROUP,
                        "approvers": [APPROVER],
                    }
                ]
            ),
            "ACRBOT_ARM__ENDPOINT": arm.base_url,
            "ACRBOT_ARM__CA_BUNDLE": arm.ca_path,
            "ACRBOT_ARM__POLLING_INTERVAL": "0",
            "ACRBOT_ARM__RETRY_BACKOFF_FACTOR": "0",
            "ACRBOT_ARM__LOCK_CONTAINER": f"{unique_name}-locks",
            "ACRBOT_SERVICE_TAGS__FILE": str(
                Path(__file__).resolve().parents[2] / "examples" / "service-tags.json"
            ),
        }
        yield Slack(emulator, server, SlackClient(SECRET, emulator=emulator), arm, env)


def start(slack: Slack, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> World:
    for key, value in slack.env.items():
        monkeypatch.setenv(key, value)
    runtime = Runtime(Settings(), credential=StaticTokenCredential())
    kwargs.setdefault("sweep_every", 0)
    runner = SocketModeRunner(runtime, app_token=APP_TOKEN, queue_options=FAST_QUEUE, **kwargs)
    runner.start()
    return World(**vars(slack), runtime=runtime, runner=runner)


@pytest.fixture
def world(slack: Slack, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    w = start(slack, monkeypatch)
    try:
        yield w
    finally:
        w.runner.stop()


# -- the loopback server's side of the protocol -------------------------------------------------


def test_the_server_speaks_socket_mode_to_any_websocket_client() -> None:
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with (
        SlackEmulator(bot_token=TOKEN, app_token=APP_TOKEN) as emulator,
        SocketModeServer(emulator) as server,
    ):
        web = WebClient(base_url=emulator.api_url)
        with pytest.raises(SlackApiError) as refused:
            web.apps_connections_open(app_token=TOKEN)
        assert refused.value.response["error"] == "not_allowed_token_type"
        url = web.apps_connections_open(app_token=APP_TOKEN)["url"]

        with connect(url, compression=None) as ws:
            hello = json.loads(ws.recv(timeout=5))
            assert hello["type"] == "hello"
            assert hello["num_connections"] == 1
            assert hello["connection_info"] == {"app_id": emulator.app_id}
            envelope = server.deliver(SLASH_COMMANDS, {"command": "/acr-why", "text": "x"})
            sent = json.loads(ws.recv(timeout=5))
            assert sent == {
                "envelope_id": envelope,
                "payload": {"command": "/acr-why", "text": "x"},
                "type": "slash_commands",
                "accepts_response_payload": True,
            }
            ws.send(json.dumps({"envelope_id": envelope, "payload": {"text": "ok"}}))
            assert server.wait_ack(envelope) == {"envelope_id": envelope, "payload": {"text": "ok"}}

            server.disconnect("warning")
            assert json.loads(ws.recv(timeout=5)) == {
                "type": "disconnect",
                "reason": "warning",
                "debug_info": {"host": "applink-emulator"},
            }
            with pytest.raises(InvalidStatus) as reused:
                connect(url, compression=None)  # a URL opens one connection only
            assert reused.value.response.status_code == 401
        assert server.refused == [url.removeprefix(server.base_url)]


# -- the conversation --------------------------------------------------------------------------


@pytest.mark.azurite
def test_a_slash_command_is_acked_with_diagnosing_and_the_worker_posts_the_card(
    world: World,
) -> None:
    # The app asked for its URL with the app-level token, and connected once.
    [opened] = world.emulator.calls("apps.connections.open")
    assert opened.headers["Authorization"] == f"Bearer {APP_TOKEN}"
    assert opened.response["url"].startswith(world.server.base_url + "/link/?ticket=")
    assert len(world.server.wait_for_links(1)) == 1
    assert world.server.refused == []

    envelope = world.server.send(
        world.client.slash_command("/acr-why", PASTE, user=DEV, channel=CHANNEL)
    )
    assert world.server.envelope(envelope)["type"] == SLASH_COMMANDS
    assert world.server.envelope(envelope)["accepts_response_payload"] is True
    ack = world.server.wait_ack(envelope)
    assert ack["payload"]["response_type"] == "ephemeral"
    assert "Diagnosing" in ack["payload"]["text"]

    [posted] = world.card("response_url")
    assert posted.params["replace_original"] is True
    blocks = json.dumps(posted.params["blocks"])
    assert "refused this address" in blocks
    assert "20.61.12.7" in blocks
    assert "contosoprod.azurecr.io" in blocks
    kinds = {r.kind for r in world.arm.requests}
    assert {"get_registry", "list_usages"} <= kinds
    eventually(lambda: world.runner.jobs.stats.handled == 1, "the job to be settled")


@pytest.mark.azurite
def test_every_slash_command_gets_its_own_answer(world: World) -> None:
    # Socket Mode has no signatures, from which commands take their delivery id over HTTP: the
    # envelope id stands in, or the second command would be taken for a replay of the first.
    for paste in (PASTE, OTHER_PASTE):
        world.server.wait_ack(
            world.server.send(
                world.client.slash_command("/acr-why", paste, user=DEV, channel=CHANNEL)
            )
        )
    answers = world.card("response_url", count=2)
    cards = sorted(json.dumps(a.params["blocks"]) for a in answers)
    assert "20.61.12.7" in cards[0]
    assert "20.61.12.8" in cards[1]


@pytest.mark.azurite
def test_a_direct_message_event_is_acked_and_answered_in_the_dm(world: World) -> None:
    envelope = world.server.send(world.client.direct_message(PASTE, user=DEV))
    sent = world.server.envelope(envelope)
    assert sent["type"] == EVENTS_API
    assert sent["accepts_response_payload"] is False
    assert sent["retry_attempt"] == 0
    assert world.server.wait_ack(envelope) == {"envelope_id": envelope}

    [post] = world.card("chat.postMessage")
    assert post.params["channel"] == world.emulator.dm_channel(DEV)
    assert "20.61.12.7" in json.dumps(post.params["blocks"])


@pytest.mark.azurite
def test_a_redelivered_event_is_acked_but_answered_once(world: World) -> None:
    event = world.client.direct_message(PASTE, user=DEV)
    first = world.server.send(event)
    again = world.server.send(world.client.retried(event, num=1, reason="timeout"))
    assert first != again
    assert world.server.envelope(again)["retry_attempt"] == 1
    assert world.server.envelope(again)["payload"]["event_id"] == event.payload["event_id"]
    world.server.wait_ack(first)
    world.server.wait_ack(again)  # both acked: any job either could cause is queued by now

    world.card("chat.postMessage")
    eventually(world.queue_is_idle, "the queue to empty")
    assert world.runner.jobs.stats.handled == 1
    assert len(world.emulator.calls("chat.postMessage")) == 1


@pytest.mark.azurite
def test_a_message_shortcut_is_an_interactive_envelope_answered_in_the_thread(
    world: World,
) -> None:
    message = world.emulator.user_message(DEV, CHANNEL, f"my pull fails:\n```{PASTE}```")
    envelope = world.server.send(
        world.client.message_shortcut(
            "diagnose_pull_error", user=APPROVER, message=message, channel=CHANNEL
        )
    )
    assert world.server.envelope(envelope)["type"] == INTERACTIVE
    assert world.server.wait_ack(envelope)["envelope_id"] == envelope
    eventually(lambda: world.emulator.replies(CHANNEL, message.ts), "the reply in the thread")
    [reply] = world.emulator.replies(CHANNEL, message.ts)
    assert "20.61.12.7" in json.dumps(reply.blocks)


@pytest.mark.azurite
def test_access_is_requested_through_the_cards_button_and_modal_over_the_socket(
    world: World,
) -> None:
    world.server.wait_ack(world.server.send(world.client.direct_message(PASTE, user=DEV)))
    world.card("chat.postMessage")
    card = world.emulator.messages(world.emulator.dm_channel(DEV))[-1]

    # The button's value was sealed with the signing secret and comes back through the socket.
    click = world.server.send(world.client.block_action("request_access", user=DEV, message=card))
    assert world.server.envelope(click)["accepts_response_payload"] is False
    world.server.wait_ack(click)
    [opened] = world.card("views.open")
    view = opened.response["view"]

    submission = world.server.send(
        world.client.view_submission(
            view["id"],
            user=DEV,
            values={"justification": {"justification_text": "deploying the hotfix now"}},
        )
    )
    assert world.server.envelope(submission)["accepts_response_payload"] is True
    assert "errors" not in (world.server.wait_ack(submission).get("payload") or {})
    eventually(
        lambda: any(
            "Access request" in json.dumps(m.blocks) for m in world.emulator.messages(APPROVALS)
        ),
        "the approval card",
    )
    [grant] = list(world.runtime.ports.grants.scan())
    assert str(grant.ip) == "20.61.12.7"
    assert grant.requester.user_id == DEV


@pytest.mark.azurite
def test_after_slack_asks_for_a_new_connection_the_app_reconnects_and_keeps_answering(
    world: World,
) -> None:
    # First make sure the app reads from its connection (a message sent before the client's
    # receive loop runs is what a real Slack never does, and the SDK may miss it).
    world.server.wait_ack(world.server.send(world.client.app_home_opened(user=DEV)))
    world.server.disconnect("refresh_requested", close_after=True)
    first, second = world.server.wait_for_links(2)
    eventually(lambda: first.closed, "the old connection to close")
    assert not second.closed
    assert len(world.emulator.calls("apps.connections.open")) == 2
    assert first.ticket != second.ticket  # each connection used a URL of its own

    envelope = world.server.send(world.client.direct_message(PASTE, user=DEV))
    world.server.wait_ack(envelope)
    world.card("chat.postMessage")


@pytest.mark.azurite
def test_a_job_that_keeps_failing_reaches_the_poison_queue_and_the_person_is_told(
    world: World,
) -> None:
    # Slack refuses the job's reply (`ok: false`, which the SDK does not retry) for all of
    # host.json's attempts; then it is back for the poison handler.
    attempts = FAST_QUEUE.max_dequeue_count
    world.emulator.fail("chat.postMessage", "internal_error", times=attempts)
    world.server.wait_ack(world.server.send(world.client.direct_message(PASTE, user=DEV)))

    [told] = world.card("chat.postMessage")
    assert "could not finish diagnosing your paste" in told.params["text"]
    assert "reference" in told.params["text"]
    assert world.runner.jobs.stats.failed == attempts
    assert world.runner.jobs.stats.poisoned == 1
    eventually(lambda: world.runner.poison.stats.handled == 1, "the poison handler")


@pytest.mark.azurite
def test_the_sweep_runs_on_its_interval(slack: Slack, monkeypatch: pytest.MonkeyPatch) -> None:
    w = start(slack, monkeypatch, sweep_every=0.05)
    try:
        eventually(lambda: w.runner.sweeps >= 2, "two sweeps")
    finally:
        w.runner.stop()


# -- stopping ----------------------------------------------------------------------------------


@pytest.mark.azurite
def test_stop_closes_the_socket_and_finishes_the_job_in_hand(world: World) -> None:
    # Slack is slow to take the card, so the job is still running when the stop comes.
    world.emulator.inject("chat.postMessage", delay=1.0)
    world.server.wait_ack(world.server.send(world.client.direct_message(PASTE, user=DEV)))
    eventually(lambda: world.runner.jobs.running == 1, "the job to start")

    world.runner.stop()

    assert world.runner.jobs.running == 0
    assert world.runner.jobs.stats.handled == 1
    [post] = world.emulator.calls("chat.postMessage")
    assert succeeded(post)
    assert world.queue_is_idle()  # the job was settled, not left to come back
    eventually(lambda: not world.server.open_links(), "the socket to close")
    world.runner.stop()  # a second stop is harmless


@pytest.mark.azurite
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_command_stops_cleanly_on_sigterm_and_ctrl_c(
    slack: Slack, signum: signal.Signals, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACRBOT_")} | slack.env
    log = tmp_path / "stderr.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "socket", "--sweep-every", "0"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        [link] = slack.server.wait_for_links(1, timeout=60)
        eventually(lambda: "connected over Socket Mode" in log.read_text(), "the banner")
        proc.send_signal(signum)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert text.index("bot socket: stopping after the jobs in hand") < text.index(
        "bot socket: stopped"
    )
    assert "Traceback" not in text
    eventually(lambda: link.closed, "the socket to close")


# -- the command's errors ----------------------------------------------------------------------


def run_cli(
    argv: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> tuple[int, str, str]:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("app_token", "message"),
    [
        ("", "ACRBOT_SLACK_APP_TOKEN is not set"),
        ("xoxb-123-456-abc", "is not an app-level token (xapp-…) but a bot token (xoxb-…)"),
        ("not-a-token", "is not an app-level token (xapp-…)"),
    ],
)
def test_a_missing_or_wrong_app_token_is_one_line_and_exit_2(
    app_token: str, message: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    env = {
        "ACRBOT_SLACK_BOT_TOKEN": TOKEN,
        "ACRBOT_SLACK_SIGNING_SECRET": SECRET,
        "ACRBOT_SLACK_APP_TOKEN": app_token,
    }
    code, out, err = run_cli(["socket"], env, monkeypatch, capsys)
    assert code == 2
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith("bot socket: error: ")
    assert message in line
    assert "123-456" not in line  # the token itself is never printed


def test_invalid_settings_are_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    env = {"ACRBOT_SLACK_APP_TOKEN": APP_TOKEN, "ACRBOT_KNOWN_IPS": '{"not-an-ip": "x"}'}
    code, _, err = run_cli(["socket"], env, monkeypatch, capsys)
    assert code == 2
    [line] = err.splitlines()
    assert line.startswith("bot socket: error: invalid setting known_ips")


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("ACRBOT_SLACK_BOT_TOKEN", "ACRBOT_SLACK_BOT_TOKEN is not set"),
        ("ACRBOT_SLACK_SIGNING_SECRET", "ACRBOT_SLACK_SIGNING_SECRET is not set"),
    ],
)
def test_a_missing_bot_token_or_signing_secret_is_one_line_and_exit_2(
    missing: str, message: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    env = {
        "ACRBOT_SLACK_APP_TOKEN": APP_TOKEN,
        "ACRBOT_SLACK_BOT_TOKEN": TOKEN,
        "ACRBOT_SLACK_SIGNING_SECRET": SECRET,
    }
    del env[missing]
    code, _, err = run_cli(["socket"], env, monkeypatch, capsys)
    assert code == 2
    [line] = err.splitlines()
    assert line.startswith(f"bot socket: error: {message}")


def test_a_bad_sweep_interval_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    for bad in ("-5", "inf", "soon"):
        code, _, err = run_cli(["socket", "--sweep-every", bad], {}, monkeypatch, capsys)
        assert code == 2
        [line] = err.splitlines()
        assert line.startswith("bot socket: error: argument --sweep-every")


@pytest.mark.azurite
def test_a_token_slack_refuses_is_one_line_and_exit_2_with_nothing_left_running(
    slack: Slack, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    env = slack.env | {"ACRBOT_SLACK_APP_TOKEN": "xapp-1-A0APP-1-revoked"}
    before = set(threading.enumerate())
    code, _, err = run_cli(["socket"], env, monkeypatch, capsys)
    assert set(threading.enumerate()) <= before  # drains and socket client threads all ended
    assert code == 2
    line = err.strip().splitlines()[-1]
    assert line == (
        "bot socket: error: Slack refused a connection for ACRBOT_SLACK_APP_TOKEN: invalid_auth"
    )
    assert slack.server.links == []


@pytest.mark.azurite
def test_a_socket_that_cannot_be_opened_is_one_line_and_exit_1(
    slack: Slack, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    slack.emulator.socket_mode_url = lambda: f"ws://127.0.0.1:{port}/link/?ticket=gone"
    code, _, err = run_cli(["socket"], slack.env, monkeypatch, capsys)
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        "bot socket: error: cannot open the Socket Mode connection to Slack (see the log)"
    )
