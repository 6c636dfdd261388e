"""Reading an attached file through the real `slack_sdk.WebClient` and HTTP, against the Slack
emulator: `files.info`, the private URL with the bot token, a `Range` for the end of a long file,
text only, and every refusal Slack can give."""

from __future__ import annotations

import codecs
import tracemalloc
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.files import (
    AttachedText,
    FileUnavailable,
    Refusal,
    _may_carry_token,
    paste_of,
    read_attached,
)
from bot.views.messages import file_refusal
from sandbox.slack_client import file_stub
from sandbox.slack_emulator import SlackEmulator

DEV = "U0DEV"
DENIAL = (
    "denied: client with IP '20.61.12.7' is not allowed access. Refer https://aka.ms/acr/firewall"
)
LIMIT = 1_000_000


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emu:
        emu.add_user(DEV, "dev")
        yield emu


@pytest.fixture
def client(slack: SlackEmulator) -> WebClient:
    return WebClient(token=slack.bot_token, base_url=slack.api_url)


def shared(slack: SlackEmulator, name: str, content: bytes | str, **kind: str) -> dict:
    """A file `DEV` sent the bot in their DM."""
    file = slack.add_file(DEV, name, content, **kind)
    slack.user_message(DEV, slack.dm_channel(DEV), "", files=[file])
    return file


def log_of(size: int, last: str = DENIAL) -> str:
    line = "2024-05-01T10:00:00Z ##[debug] layer 5f70bf18a086: Layer already exists\n"
    return line * (size // len(line)) + last + "\n"


def downloads(slack: SlackEmulator) -> list:
    return slack.calls("files.download")


def test_a_small_log_is_read_whole(slack: SlackEmulator, client: WebClient) -> None:
    file = shared(slack, "build.log", log_of(5_000))
    got = read_attached(client, file["id"], limit_bytes=LIMIT)
    assert got.refusal is None
    assert got.text is not None
    assert got.text.rstrip().endswith(DENIAL)
    assert got.extent is not None
    assert not got.extent.partial
    assert got.name == "build.log"
    assert got.size == file["size"]
    [download] = downloads(slack)
    assert download.status == 200
    assert download.params["range"] is None
    assert download.headers["Authorization"] == f"Bearer {slack.bot_token}"


def test_a_long_log_is_asked_for_its_end(slack: SlackEmulator, client: WebClient) -> None:
    file = shared(slack, "build.log", log_of(3_100_000))
    got = read_attached(client, file["id"], limit_bytes=LIMIT)
    assert got.text is not None
    assert got.text.rstrip().endswith(DENIAL)
    assert got.extent is not None
    assert (got.extent.part.value, got.extent.read_bytes) == ("end", LIMIT)
    assert got.extent.total_bytes == file["size"]
    assert got.extent.describe() == "read the last 1.0 MB of 3.1 MB"
    [download] = downloads(slack)
    assert (download.status, download.params["range"]) == (206, f"bytes=-{LIMIT}")


def test_a_host_that_ignores_the_range_is_read_from_the_start_and_only_to_the_limit(
    slack: SlackEmulator, client: WebClient
) -> None:
    slack.file_ranges = False
    file = shared(slack, "huge.log", DENIAL + "\n" + log_of(30_000_000))
    tracemalloc.start()
    try:
        got = read_attached(client, file["id"], limit_bytes=LIMIT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got.text is not None
    assert got.text.startswith(DENIAL)
    assert got.extent is not None
    assert got.extent.part.value == "start"
    assert got.extent.read_bytes == LIMIT
    assert got.extent.total_bytes == file["size"]
    assert got.extent.describe() == "read the first 1.0 MB of 30.0 MB"
    # Never the whole 30 MB: the limit, its text, and the reading's own buffers.
    assert peak < 8_000_000, peak


def test_a_snippet_is_read(slack: SlackEmulator, client: WebClient) -> None:
    file = slack.add_file(
        DEV, "Untitled", DENIAL, mode="snippet", filetype="python", pretty_type="Python"
    )
    slack.user_message(DEV, slack.dm_channel(DEV), "", files=[file])
    got = read_attached(client, file["id"], limit_bytes=LIMIT)
    assert got.text == DENIAL


def test_a_slack_connect_stub_is_looked_up(slack: SlackEmulator, client: WebClient) -> None:
    file = shared(slack, "build.txt", DENIAL)
    assert read_attached(client, file_stub(file)["id"], limit_bytes=LIMIT).text == DENIAL


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("screenshot.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG"),
        ("logs.tar.gz", b"\x1f\x8b\x08\x00", "GZip"),
        ("report.pdf", b"%PDF-1.7\n", "PDF"),
    ],
)
def test_a_file_of_another_type_is_refused_unread(
    slack: SlackEmulator, client: WebClient, name: str, content: bytes, kind: str
) -> None:
    file = shared(slack, name, content)
    got = read_attached(client, file["id"], limit_bytes=LIMIT)
    assert (got.refusal, got.kind, got.text) == (Refusal.NOT_TEXT, kind, None)
    assert downloads(slack) == []
    answer = file_refusal(got)
    assert f"`{name}`" in answer
    assert kind in answer
    assert "`.log` or `.txt`" in answer


def test_a_log_whose_bytes_are_not_text_is_refused(slack: SlackEmulator, client: WebClient) -> None:
    file = shared(slack, "core.log", bytes(range(256)) * 40, mimetype="application/octet-stream")
    got = read_attached(client, file["id"], limit_bytes=LIMIT)
    assert got.refusal is Refusal.BINARY
    assert "not text" in file_refusal(got)


@pytest.mark.parametrize("bom", [True, False], ids=["bom", "tail-without-bom"])
def test_a_powershell_utf16_log_is_decoded(
    slack: SlackEmulator, client: WebClient, bom: bool
) -> None:
    text = log_of(2_000 if bom else 700_000)
    data = (codecs.BOM_UTF16_LE if bom else b"") + text.encode("utf-16-le")
    file = shared(slack, "pull.log", data)
    got = read_attached(client, file["id"], limit_bytes=LIMIT)
    assert got.text is not None
    assert got.text.rstrip().endswith(DENIAL)


def test_a_file_not_shared_with_the_bot_is_not_found(
    slack: SlackEmulator, client: WebClient
) -> None:
    slack.add_channel("C0SECRET", "secret", bot_is_member=False)
    file = slack.add_file(DEV, "build.log", DENIAL)
    slack.user_message(DEV, "C0SECRET", "", files=[file])
    got = read_attached(client, file["id"], limit_bytes=LIMIT, name="build.log")
    assert got.refusal is Refusal.NOT_FOUND
    assert "`build.log`" in file_refusal(got)
    assert "not shared with me" in file_refusal(got)


def test_a_deleted_file_is_not_found(slack: SlackEmulator, client: WebClient) -> None:
    file = shared(slack, "build.log", DENIAL)
    slack.delete_file(file["id"])
    assert read_attached(client, file["id"], limit_bytes=LIMIT).refusal is Refusal.NOT_FOUND


def test_without_the_files_read_scope_the_answer_says_so() -> None:
    with SlackEmulator(scopes=["chat:write"]) as slack:
        file = shared(slack, "build.log", DENIAL)
        client = WebClient(token=slack.bot_token, base_url=slack.api_url)
        got = read_attached(client, file["id"], limit_bytes=LIMIT, name="build.log")
    assert got.refusal is Refusal.NO_ACCESS
    assert "`files:read`" in file_refusal(got)


@pytest.mark.parametrize(
    ("status", "refusal"),
    [
        (403, Refusal.NO_ACCESS),
        (401, Refusal.NO_ACCESS),
        (404, Refusal.NOT_FOUND),
        (410, Refusal.NOT_FOUND),
    ],
)
def test_a_download_slack_refuses_is_answered(
    slack: SlackEmulator, client: WebClient, status: int, refusal: Refusal
) -> None:
    file = shared(slack, "build.log", DENIAL)
    slack.inject("files.download", status=status)
    assert read_attached(client, file["id"], limit_bytes=LIMIT).refusal is refusal


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 503}, {"drop": True}])
def test_a_download_that_may_pass_raises_for_a_retry(
    slack: SlackEmulator, client: WebClient, fault: dict
) -> None:
    file = shared(slack, "build.log", DENIAL)
    slack.inject("files.download", **fault)
    with pytest.raises(FileUnavailable):
        read_attached(client, file["id"], limit_bytes=LIMIT)
    # The next try reads it.
    assert read_attached(client, file["id"], limit_bytes=LIMIT).text == DENIAL


def test_a_redirect_to_the_sign_in_page_is_not_followed(
    slack: SlackEmulator, client: WebClient
) -> None:
    file = shared(slack, "build.log", DENIAL)
    port = slack.base_url.rsplit(":", 1)[1]
    slack.inject("files.download", status=302, Location=f"http://localhost:{port}/?redir=x")
    assert read_attached(client, file["id"], limit_bytes=LIMIT).refusal is Refusal.NO_ACCESS
    assert slack.calls("sign_in") == []  # the token never went to another host


def test_a_redirect_on_the_same_host_is_followed(slack: SlackEmulator, client: WebClient) -> None:
    file = shared(slack, "build.log", DENIAL)
    slack.inject("files.download", status=302, Location=file["url_private"])
    assert read_attached(client, file["id"], limit_bytes=LIMIT).text == DENIAL


def test_the_token_goes_to_slack_hosts_only(client: WebClient) -> None:
    assert _may_carry_token(client, "https://files.slack.com/files-pri/T1-F1/download/a.log")
    assert _may_carry_token(client, client.base_url.rstrip("/") + "/files-pri/T-F/a.log")
    assert not _may_carry_token(client, "https://files.slack.com.evil.example/x")
    assert not _may_carry_token(client, "http://files.slack.com/files-pri/T1-F1/a.log")
    assert not _may_carry_token(client, "https://example.com/files-pri/T1-F1/a.log")


def test_paste_of_prefers_the_file_and_falls_back_to_the_text(
    slack: SlackEmulator, client: WebClient
) -> None:
    log = shared(slack, "build.log", DENIAL)
    png = shared(slack, "shot.png", b"\x89PNG\r\n\x1a\n")
    read = paste_of(client, text="why?", file_id=log["id"])
    assert read.text == DENIAL
    assert read.file is not None
    assert not read.refused_alone
    beside = paste_of(client, text=DENIAL, file_id=png["id"])
    assert beside.text == DENIAL
    assert isinstance(beside.file, AttachedText)
    assert beside.file.refusal is Refusal.NOT_TEXT
    assert not beside.refused_alone
    alone = paste_of(client, text="  ", file_id=png["id"])
    assert alone.refused_alone


def test_a_file_stored_outside_slack_or_an_empty_one_is_refused(
    slack: SlackEmulator, client: WebClient
) -> None:
    drive = shared(slack, "build.log", DENIAL, mode="external")
    got = read_attached(client, drive["id"], limit_bytes=LIMIT)
    assert got.refusal is Refusal.EXTERNAL
    assert "outside Slack" in file_refusal(got)
    empty = shared(slack, "empty.log", b"")
    assert read_attached(client, empty["id"], limit_bytes=LIMIT).refusal is Refusal.EMPTY
    assert downloads(slack) == []
