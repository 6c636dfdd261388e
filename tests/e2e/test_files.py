"""Files and long logs end to end: a signed event with a file into the HTTP function, the job
through Azurite's queue (carrying the file's id, never the file), the worker reading the file
from the Slack emulator with the bot token, and the card as Slack received it."""

from __future__ import annotations

import json

import azure.functions as func
import pytest

from sandbox.slack_emulator import Call
from tests.e2e.conftest import CHANNEL, DEV, World

pytestmark = pytest.mark.azurite

DENIAL = (
    'Error response from daemon: Head "https://contosoprod.azurecr.io/v2/shop/api/manifests/1.4": '
    "denied: client with IP '20.61.12.7' is not allowed access. Refer "
    "https://aka.ms/acr/firewall to grant access."
)
LINE = "2024-05-01T10:00:00.0000000Z ##[debug] layer 5f70bf18a086: Layer already exists\n"
#: A CI log of 3.1 MB whose only error is its last line.
LOG = LINE * (3_100_000 // len(LINE)) + DENIAL + "\n"


def card(blocks: list[dict]) -> str:
    return json.dumps(blocks)


def send(world: World, *files: dict, text: str = "") -> func.HttpResponse:
    """A direct message from the developer with `files` attached, into the HTTP function."""
    return world.post(world.client.direct_message(text, user=DEV, files=list(files)))


def answer(world: World) -> Call:
    """The jobs run; the one message the bot posted."""
    world.run_jobs()
    [post] = world.slack.calls("chat.postMessage")
    return post


def queued_jobs(world: World) -> list[str]:
    """The queue's messages (the client decodes their base64)."""
    peeked = world.runtime.jobs.client.peek_messages(max_messages=32)  # type: ignore[attr-defined]
    return [str(m.content) for m in peeked]


def test_a_3mb_log_in_a_dm_with_the_denial_on_its_last_line_is_diagnosed(world: World) -> None:
    log = world.client.upload(LOG, user=DEV, name="build.log")
    response = send(world, log)
    assert response.status_code == 200
    # The job names the file; the file stays in Slack (a queue message holds 64 KiB).
    [job] = queued_jobs(world)
    assert len(job) < 2_000
    assert json.loads(job)["file_id"] == log["id"]

    post = answer(world)
    blocks = card(post.params["blocks"])
    assert "refused this address" in blocks
    assert "20.61.12.7" in blocks
    assert "contosoprod.azurecr.io" in blocks
    assert "`build.log`: I read the last 1.0 MB of 3.1 MB" in blocks
    [download] = world.slack.calls("files.download")
    assert download.status == 206
    assert download.params["range"] == "bytes=-1000000"


def test_a_long_paste_slack_made_a_snippet_of_is_diagnosed(world: World) -> None:
    snippet = world.client.snippet(f"my pull fails:\n{DENIAL}\n", user=DEV)
    send(world, snippet)
    post = answer(world)
    blocks = card(post.params["blocks"])
    assert "20.61.12.7" in blocks
    assert "From `Untitled`: I read all" in blocks


def test_a_mention_with_a_txt_file_is_answered_in_its_thread(world: World) -> None:
    notes = world.client.upload(f"docker pull output:\n{DENIAL}\n", user=DEV, name="pull.txt")
    world.post(
        world.client.app_mention("why does this fail?", user=DEV, channel=CHANNEL, files=[notes])
    )
    post = answer(world)
    assert post.params["channel"] == CHANNEL
    assert post.params["thread_ts"]
    assert "20.61.12.7" in card(post.params["blocks"])


def test_a_png_gets_a_clear_answer_naming_what_is_read(world: World) -> None:
    shot = world.client.upload(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", user=DEV, name="error.png")
    send(world, shot)
    post = answer(world)
    assert "`error.png` (PNG)" in post.params["text"]
    assert "`.log` or `.txt` file, or a snippet" in post.params["text"]
    assert "blocks" not in post.params or not post.params["blocks"]
    assert world.slack.calls("files.download") == []
    assert world.arm.requests == []  # nothing was diagnosed


def test_a_png_beside_a_pasted_error_leaves_the_paste_diagnosed(world: World) -> None:
    shot = world.client.upload(b"\x89PNG\r\n\x1a\n\x00", user=DEV, name="error.png")
    send(world, shot, text=DENIAL)
    post = answer(world)
    blocks = card(post.params["blocks"])
    assert "20.61.12.7" in blocks
    assert "I read the message instead" in blocks


def test_a_file_over_the_cap_on_a_host_without_ranges_is_read_from_its_start(
    world: World,
) -> None:
    world.slack.file_ranges = False
    log = world.client.upload(DENIAL + "\n" + LOG, user=DEV, name="early.log")
    send(world, log)
    post = answer(world)
    blocks = card(post.params["blocks"])
    assert "20.61.12.7" in blocks
    assert "I read the first 1.0 MB of 3.1 MB" in blocks
    assert "paste its last lines" in blocks


def test_a_file_deleted_before_the_bot_read_it_is_answered(world: World) -> None:
    log = world.client.upload(LOG, user=DEV, name="build.log")
    send(world, log)
    world.slack.delete_file(log["id"])
    post = answer(world)
    assert "I could not find `build.log`" in post.params["text"]


def test_a_download_slack_forbids_is_answered(world: World) -> None:
    log = world.client.upload(LOG, user=DEV, name="build.log")
    send(world, log)
    world.slack.inject("files.download", status=403)
    post = answer(world)
    assert "Slack did not let me read `build.log`" in post.params["text"]
    assert "`files:read`" in post.params["text"]


def test_a_failing_file_service_is_retried_by_the_queue(world: World) -> None:
    log = world.client.upload(LOG, user=DEV, name="build.log")
    send(world, log)
    world.slack.inject("files.download", status=503)
    post = answer(world)
    assert "20.61.12.7" in card(post.params["blocks"])
    assert [c.status for c in world.slack.calls("files.download")] == [503, 206]
