"""The Slack emulator's files: the events that carry them in the shapes of the Slack SDKs' event
samples (`tests/recordings/slack/event-samples.json`), and the download URLs as Slack serves
them: the bot token, one byte range, a redirect to the sign-in page without the token, 403 for
a file the bot may not see, 404 for one that is gone."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.slack_client import SlackClient, file_stub
from sandbox.slack_emulator import SlackEmulator
from tests.sandbox.test_slack_samples import differences

EVENTS = json.loads(
    (
        Path(__file__).resolve().parents[1] / "recordings" / "slack" / "event-samples.json"
    ).read_text()
)["events"]
DEV = "U0DEV"
CONTENT = b"0123456789" * 100


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emu:
        emu.add_user(DEV, "dev")
        emu.add_channel("C0BUILD", "build", members=[DEV, emu.bot_user_id])
        yield emu


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def get(url: str, token: str | None, range_header: str | None = None) -> tuple[int, dict, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if range_header:
        headers["Range"] = range_header
    opener = urllib.request.build_opener(_NoRedirect())
    try:
        with opener.open(urllib.request.Request(url, headers=headers), timeout=5) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


def test_a_file_share_in_a_dm_is_a_message_event_in_slacks_shape(slack: SlackEmulator) -> None:
    client = SlackClient("secret", emulator=slack)
    file = client.upload("denied", user=DEV, name="build.log")
    event = client.direct_message("", user=DEV, files=[file]).payload["event"]
    sample = EVENTS["message.file_share"]
    assert differences(sample, event, "event", frozenset()) == []
    assert event["subtype"] == "file_share"
    assert event["channel_type"] == "im"
    assert event["upload"] is True
    assert [f["id"] for f in event["files"]] == [file["id"]]
    assert "blocks" not in event  # no text, no rich_text block


def test_a_mention_with_a_file_is_an_app_mention_in_slacks_shape(slack: SlackEmulator) -> None:
    client = SlackClient("secret", emulator=slack)
    file = client.snippet("denied: client with IP", user=DEV)
    event = client.app_mention("see this", user=DEV, channel="C0BUILD", files=[file])
    body = event.payload["event"]
    assert differences(EVENTS["app_mention"], body, "event", frozenset()) == []
    assert "subtype" not in body
    assert body["files"][0]["mode"] == "snippet"
    assert body["files"][0]["preview"].startswith("denied")


def test_a_slack_connect_stub_carries_no_url(slack: SlackEmulator) -> None:
    client = SlackClient("secret", emulator=slack)
    file = client.upload("denied", user=DEV, name="build.log")
    event = client.direct_message("", user=DEV, files=[file_stub(file)]).payload["event"]
    [stub] = event["files"]
    assert stub["file_access"] == "check_file_info"
    assert "url_private" not in stub
    # Still shared where it was posted: files.info finds it.
    web = WebClient(token=slack.bot_token, base_url=slack.api_url)
    assert web.files_info(file=file["id"])["file"]["name"] == "build.log"


def test_the_download_needs_the_bot_token(slack: SlackEmulator) -> None:
    file = slack.add_file(DEV, "build.log", CONTENT)
    slack.user_message(DEV, slack.dm_channel(DEV), "", files=[file])
    status, _, body = get(file["url_private_download"], slack.bot_token)
    assert (status, body) == (200, CONTENT)
    for token in (None, "xoxb-someone-else"):
        status, headers, body = get(file["url_private"], token)
        assert status == 302
        port = slack.base_url.rsplit(":", 1)[1]
        assert headers["Location"].startswith(f"http://localhost:{port}/?redir=")
        assert b"Found" in body
    # The sign-in page, on another host name: HTML, never the file.
    status, headers, body = get(f"http://localhost:{port}/?redir=x", None)
    assert (status, headers["Content-Type"].split(";")[0]) == (200, "text/html")
    assert slack.calls("sign_in")


def test_a_file_the_bot_may_not_see_is_403_and_a_gone_one_404(slack: SlackEmulator) -> None:
    slack.add_channel("C0SECRET", "secret", bot_is_member=False)
    hidden = slack.add_file(DEV, "secret.log", CONTENT)
    slack.user_message(DEV, "C0SECRET", "", files=[hidden])
    assert get(hidden["url_private_download"], slack.bot_token)[0] == 403
    web = WebClient(token=slack.bot_token, base_url=slack.api_url)
    with pytest.raises(SlackApiError) as refused:
        web.files_info(file=hidden["id"])
    assert refused.value.response["error"] == "file_not_found"

    gone = slack.add_file(DEV, "gone.log", CONTENT)
    slack.user_message(DEV, slack.dm_channel(DEV), "", files=[gone])
    slack.delete_file(gone["id"])
    assert get(gone["url_private_download"], slack.bot_token)[0] == 404
    with pytest.raises(SlackApiError) as deleted:
        web.files_info(file=gone["id"])
    assert deleted.value.response["error"] == "file_deleted"
    assert get(f"{slack.base_url}/files-pri/{slack.team_id}-F999/x.log", slack.bot_token)[0] == 404


@pytest.mark.parametrize(
    ("header", "status", "served", "content_range"),
    [
        ("bytes=-100", 206, CONTENT[-100:], "bytes 900-999/1000"),
        ("bytes=10-19", 206, CONTENT[10:20], "bytes 10-19/1000"),
        ("bytes=990-", 206, CONTENT[990:], "bytes 990-999/1000"),
        ("bytes=-5000", 206, CONTENT, "bytes 0-999/1000"),
        ("bytes=1000-", 416, b"", "bytes */1000"),
    ],
)
def test_one_byte_range_is_served_as_http_does(
    slack: SlackEmulator, header: str, status: int, served: bytes, content_range: str
) -> None:
    file = slack.add_file(DEV, "build.log", CONTENT)
    slack.user_message(DEV, slack.dm_channel(DEV), "", files=[file])
    got_status, headers, body = get(file["url_private_download"], slack.bot_token, header)
    assert (got_status, body, headers["Content-Range"]) == (status, served, content_range)


def test_a_host_without_ranges_serves_the_whole_file(slack: SlackEmulator) -> None:
    slack.file_ranges = False
    file = slack.add_file(DEV, "build.log", CONTENT)
    slack.user_message(DEV, slack.dm_channel(DEV), "", files=[file])
    status, headers, body = get(file["url_private_download"], slack.bot_token, "bytes=-100")
    assert (status, body) == (200, CONTENT)
    assert "Content-Range" not in headers
